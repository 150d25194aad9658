package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X github.com/s3limit/s3limit/internal/cli.Version=v1.2.3".
var Version = "dev"

func runVersion(_ context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return usageError("version takes no arguments")
	}
	fmt.Fprintf(env.Stdout, "s3limit %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// version is the s3limit version: Version when set at build time, else
// the module version go install recorded, else "dev".
func version() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return v
}
