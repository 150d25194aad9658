package transfer

import (
	"context"
	"io"
	"mime"
	"os"
	"path/filepath"
)

// UploadFile uploads the local file at path to s3://bucket/key and
// returns at once; the Future reports the outcome. It is Upload of the
// opened file (read with ReadAt, in parallel parts from its size up to
// MultipartThreshold), closed when done. Without WithContentType, the
// Content-Type is guessed from the file name's extension.
func (m *Manager) UploadFile(ctx context.Context, path, bucket, key string, opts ...Option) *Future {
	o := collect(opts)
	if o.contentType == "" {
		o.contentType = mime.TypeByExtension(filepath.Ext(path))
	}
	return m.start(ctx, KindUpload, bucket, key, o, func(ctx context.Context, f *Future) (Result, error) {
		file, err := os.Open(path)
		if err != nil {
			return Result{}, err
		}
		defer file.Close()
		return m.upload(ctx, f, file, o)
	})
}

// DownloadFile downloads s3://bucket/key into the local file at path and
// returns at once; the Future reports the outcome. Missing directories
// are created. The object is written to a temporary file next to path
// (".<name>.*.part") and renamed into place once complete, so a failed
// or cancelled download leaves no partial file under path, and an
// existing file there is replaced only by a complete download. The file
// gets mode 0644.
func (m *Manager) DownloadFile(ctx context.Context, bucket, key, path string, opts ...Option) *Future {
	o := collect(opts)
	return m.start(ctx, KindDownload, bucket, key, o, func(ctx context.Context, f *Future) (Result, error) {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Result{}, err
		}
		tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.part")
		if err != nil {
			return Result{}, err
		}
		d := &downloader{m: m, f: f, o: &o}
		res, err := d.run(ctx, func(p []byte, at int64) error {
			n, err := tmp.WriteAt(p, at)
			if err == nil && n < len(p) {
				err = io.ErrShortWrite
			}
			return err
		}, nil)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			if err = os.Chmod(tmp.Name(), 0o644); err == nil {
				err = os.Rename(tmp.Name(), path)
			}
		}
		if err != nil {
			os.Remove(tmp.Name())
			return Result{}, err
		}
		return res, nil
	})
}
