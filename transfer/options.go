package transfer

// Option adjusts one Upload or Download.
type Option func(*options)

type options struct {
	subs        []Subscriber
	contentType string
	metadata    map[string]string
	size        int64 // -1 = unknown
}

func collect(opts []Option) options {
	o := options{size: -1}
	for _, fn := range opts {
		if fn != nil {
			fn(&o)
		}
	}
	return o
}

// WithSubscribers adds subscribers to the transfer's events.
func WithSubscribers(subs ...Subscriber) Option {
	return func(o *options) {
		for _, s := range subs {
			if s != nil {
				o.subs = append(o.subs, s)
			}
		}
	}
}

// WithContentType sets the Content-Type of an uploaded object. Downloads
// ignore it.
func WithContentType(ct string) Option {
	return func(o *options) { o.contentType = ct }
}

// WithMetadata sets user metadata (x-amz-meta-*) of an uploaded object.
// Downloads ignore it.
func WithMetadata(md map[string]string) Option {
	return func(o *options) {
		o.metadata = make(map[string]string, len(md))
		for k, v := range md {
			o.metadata[k] = v
		}
	}
}

// WithSize declares the exact length in bytes of an upload body that is a
// plain io.Reader. It lets the manager choose single or multipart upload
// and the part size before reading, and lets subscribers show a total.
// The upload fails if the body is shorter or longer. Bodies whose size
// the manager can find itself (regular files, *bytes.Reader,
// *strings.Reader, *io.SectionReader) do not need it. Downloads ignore it.
func WithSize(n int64) Option {
	return func(o *options) { o.size = n }
}
