package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	typeCommand      = "command:remote:Command"
	typeCopyToRemote = "command:remote:CopyToRemote"
)

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	pool *sshPool
}

func newProvider() *provider { return &provider{pool: newSSHPool()} }

func (p *provider) closeAll() { p.pool.closeAll() }

// Secrets and unknowns pass through untouched: a connection's private key stays a secret in the
// state, and a value known only after another step is left for the engine.
var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshalOpts)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOpts)
}

func resourceType(urn string) (string, error) {
	t := string(resource.URN(urn).Type())
	if t != typeCommand && t != typeCopyToRemote {
		return "", status.Errorf(codes.InvalidArgument, "this command provider implements only %s and %s, not %s", typeCommand, typeCopyToRemote, t)
	}
	return t, nil
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"command","version":%q}`, Version)}, nil
}

func (p *provider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Configure: no preview support, so a preview never runs anything on a host.
func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true, SupportsPreview: false}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.pool.closeAll()
	return &emptypb.Empty{}, nil
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t, err := resourceType(req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	required := []string{"connection"}
	if t == typeCopyToRemote {
		required = append(required, "source", "remotePath")
	}
	for _, k := range required {
		if _, ok := news[resource.PropertyKey(k)]; !ok {
			failures = append(failures, &pulumirpc.CheckFailure{Property: k, Reason: fmt.Sprintf("missing required property %q", k)})
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// Diff: every changed input is an update (the command runs again), a changed `triggers`
// replaces the resource, as upstream's schema says.
func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
		delete(olds, "stdout")
		delete(olds, "stderr")
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[k] = true
	}
	diff := olds.Diff(news)
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}, HasDetailedDiff: true}
	if diff == nil {
		return resp, nil
	}
	keys := diff.ChangedKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		if ignored[string(k)] {
			continue
		}
		replace := k == "triggers"
		if replace {
			resp.Replaces = append(resp.Replaces, string(k))
		}
		resp.Diffs = append(resp.Diffs, string(k))
		resp.DetailedDiff[string(k)] = &pulumirpc.PropertyDiff{Kind: diffKind(diff, k, replace), InputDiff: true}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

func diffKind(diff *resource.ObjectDiff, k resource.PropertyKey, replace bool) pulumirpc.PropertyDiff_Kind {
	switch {
	case diff.Added(k) && replace:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case diff.Added(k):
		return pulumirpc.PropertyDiff_ADD
	case diff.Deleted(k) && replace:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	case diff.Deleted(k):
		return pulumirpc.PropertyDiff_DELETE
	case replace:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE
	}
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	props, err := p.step(ctx, req.GetUrn(), inputs, nil, req.GetPreview(), stringOf(inputs, "create"))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(resource.URN(req.GetUrn()).Name()), Properties: props}, nil
}

// Update runs `update`, or `create` when there is none.
func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	script := stringOf(news, "update")
	if script == "" {
		script = stringOf(news, "create")
	}
	props, err := p.step(ctx, req.GetUrn(), news, olds, req.GetPreview(), script)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// step is one Create or Update. In a preview it runs nothing on a host and shows the outputs to
// come (the engine calls Create and Update in a preview too, since this provider answers
// Handshake); otherwise it runs the script, or the copy.
func (p *provider) step(ctx context.Context, urn string, inputs, olds resource.PropertyMap, preview bool, script string) (*structpb.Struct, error) {
	t, err := resourceType(urn)
	if err != nil {
		return nil, err
	}
	if preview {
		return marshal(previewOutputs(t, inputs))
	}
	outs, err := p.apply(ctx, t, inputs, script, olds)
	if err != nil {
		return nil, err
	}
	return marshal(outs)
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t, err := resourceType(req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	// CopyToRemote leaves the file; a Command runs its `delete`, if it has one.
	if t == typeCommand {
		if script := stringOf(olds, "delete"); script != "" {
			if _, err := p.apply(ctx, t, olds, script, olds); err != nil {
				return nil, err
			}
		}
	}
	return &emptypb.Empty{}, nil
}

// previewOutputs: what a preview shows: the inputs, and a Command's stdout and stderr unknown.
func previewOutputs(t string, inputs resource.PropertyMap) resource.PropertyMap {
	outs := inputs.Copy()
	if t == typeCommand {
		outs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		outs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	}
	return outs
}

// Read: nothing on a host can be read back into a command's state, so it stays as it is.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// apply runs `script` (a Command) or copies the asset (a CopyToRemote) and returns the outputs:
// the inputs, plus stdout and stderr for a Command.
func (p *provider) apply(ctx context.Context, t string, inputs resource.PropertyMap, script string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	conn, err := parseConnection(inputs["connection"])
	if err != nil {
		return nil, err
	}
	outs := inputs.Copy()
	if t == typeCopyToRemote {
		return outs, p.pool.copyAsset(ctx, conn, inputs["source"], stringOf(inputs, "remotePath"))
	}
	run := runSpec{script: script, stdin: stringOf(inputs, "stdin"), env: map[string]string{}}
	if env := plain(inputs["environment"]); env.IsObject() {
		for k, v := range env.ObjectValue() {
			run.env[string(k)] = stringValue(v)
		}
	}
	if olds != nil && boolOr(inputs, "addPreviousOutputInEnv", true) {
		run.env["PULUMI_COMMAND_STDOUT"] = stringOf(olds, "stdout")
		run.env["PULUMI_COMMAND_STDERR"] = stringOf(olds, "stderr")
	}
	stdout, stderr, err := p.pool.run(ctx, conn, run)
	if err != nil {
		return nil, err
	}
	outs["stdout"] = resource.NewStringProperty(stdout)
	outs["stderr"] = resource.NewStringProperty(stderr)
	return outs, nil
}

func newID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s", tokens.QName(name), hex.EncodeToString(b))
}
