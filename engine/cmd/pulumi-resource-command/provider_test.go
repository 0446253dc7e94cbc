package main

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const urn = "urn:pulumi:laba::glustermesh::glustermesh:index:DataCenter$command:remote:Command::laba/mesh/laba1/key"


func diff(t *testing.T, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	o, err := marshal(olds)
	if err != nil {
		t.Fatal(err)
	}
	n, err := marshal(news)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := newProvider().Diff(context.Background(), &pulumirpc.DiffRequest{Urn: urn, OldInputs: o, News: n})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func conn(host string) resource.PropertyValue {
	return resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
		"host": resource.NewStringProperty(host), "privateKey": resource.NewStringProperty("KEY"),
	}))
}

func TestDiffUnchangedIsNone(t *testing.T) {
	in := resource.PropertyMap{"connection": conn("10.0.0.1"), "create": resource.NewStringProperty("true")}
	if r := diff(t, in, in.Copy()); r.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("changes %v, want none", r.Changes)
	}
}

func TestDiffChangedCreateIsUpdateNotReplace(t *testing.T) {
	olds := resource.PropertyMap{"connection": conn("10.0.0.1"), "create": resource.NewStringProperty("a")}
	news := resource.PropertyMap{"connection": conn("10.0.0.1"), "create": resource.NewStringProperty("b")}
	r := diff(t, olds, news)
	if r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 0 {
		t.Fatalf("got %v replaces %v, want an update", r.Changes, r.Replaces)
	}
	if k := r.DetailedDiff["create"].GetKind(); k != pulumirpc.PropertyDiff_UPDATE {
		t.Fatalf("create: %v", k)
	}
}

func TestDiffTriggersReplace(t *testing.T) {
	base := resource.PropertyMap{"connection": conn("10.0.0.1"), "create": resource.NewStringProperty("a")}
	added := base.Copy()
	added["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("r1")})
	r := diff(t, base, added)
	if len(r.Replaces) != 1 || r.Replaces[0] != "triggers" || r.DetailedDiff["triggers"].GetKind() != pulumirpc.PropertyDiff_ADD_REPLACE {
		t.Fatalf("adding triggers: %+v", r)
	}
	changed := added.Copy()
	changed["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("r2")})
	if r := diff(t, added, changed); r.DetailedDiff["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Fatalf("changing triggers: %+v", r)
	}
}

func TestParseConnectionDefaultsAndProxy(t *testing.T) {
	c, err := parseConnection(resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
		"host":  resource.NewStringProperty("10.0.0.2"),
		"proxy": resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewStringProperty("bastion"), "port": resource.NewNumberProperty(2222)}),
	})))
	if err != nil {
		t.Fatal(err)
	}
	if c.user != "root" || c.port != 22 || c.dialErrorLimit != 10 || c.perDialTimeout != 15 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.proxy == nil || c.proxy.address() != "bastion:2222" {
		t.Fatalf("proxy: %+v", c.proxy)
	}
	if _, err := parseConnection(resource.NewObjectProperty(resource.PropertyMap{})); err == nil {
		t.Fatal("a connection without host must be refused")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/a b": `'/a b'`, "it's": `'it'\''s'`, "": `''`} {
		if got := shellQuote(in); got != want {
			t.Fatalf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// A preview must never run anything: the engine calls Create and Update with Preview set.
func TestPreviewRunsNothing(t *testing.T) {
	unreachable := resource.NewObjectProperty(resource.PropertyMap{
		"host": resource.NewStringProperty("127.0.0.1"), "port": resource.NewNumberProperty(1),
		"dialErrorLimit": resource.NewNumberProperty(1), "perDialTimeout": resource.NewNumberProperty(1),
	})
	in := resource.PropertyMap{"connection": unreachable, "create": resource.NewStringProperty("touch /tmp/ran")}
	props, err := marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider()
	created, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Properties: props, Preview: true})
	if err != nil {
		t.Fatalf("a preview create tried to run: %v", err)
	}
	outs, _ := unmarshal(created.GetProperties())
	if !outs["stdout"].IsComputed() {
		t.Fatalf("stdout in a preview must be unknown, got %v", outs["stdout"])
	}
	if _, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: urn, Olds: props, News: props, Preview: true}); err != nil {
		t.Fatalf("a preview update tried to run: %v", err)
	}
	if _, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Properties: props}); err == nil {
		t.Fatal("a real create must try the host (and fail here)")
	}
}
