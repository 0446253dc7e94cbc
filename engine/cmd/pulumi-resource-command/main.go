// pulumi-resource-command: the provider of the `command` package's two remote resources that
// glustermesh declares, command:remote:Command and command:remote:CopyToRemote.
//
// Why our own: the Go module proxy our machines reach refuses
// github.com/pulumi/pulumi-command/provider (403, "This module version is not available"), so the
// upstream plugin cannot be built here. This one keeps upstream's documented behaviour for what
// the program uses:
//   - Command: `create` runs on create; on any change of the inputs `update` runs, or `create`
//     when there is no `update`; `delete` runs on delete; a change of `triggers` replaces the
//     resource; stdout and stderr become outputs.
//   - CopyToRemote: the asset is copied to `remotePath` on create and on any change.
//   - Connections verify `hostKey` when it is set, retry dialling `dialErrorLimit` times with a
//     `perDialTimeout` each, and may go through one `proxy` (a bastion).
//
// A user's machine runs upstream's plugin (installed by `@pulumi/command`); the lab and the
// tests put this one on PATH, where the CLI finds it first.
package main

import (
	"fmt"
	"os"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"google.golang.org/grpc"
)

// Version is the `@pulumi/command` version this provider answers for (set by the build).
var Version = "1.2.1"

func main() {
	// The engine passes its address last; nothing else is needed.
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(Version)
		return
	}
	prov := newProvider()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, prov)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
	prov.closeAll()
}
