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
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(env.Stdout, "s3limit %s (%s %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
