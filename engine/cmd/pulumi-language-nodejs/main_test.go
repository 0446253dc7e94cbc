package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestRunFlagsFollowTheRunScriptsUsage(t *testing.T) {
	req := &pulumirpc.RunRequest{MonitorAddress: "127.0.0.1:1", Project: "glustermesh", Stack: "laba", Pwd: "/p", Organization: "organization", DryRun: true, Parallel: 16}
	got := runFlags(req, "127.0.0.1:2", "/p")
	want := []string{"--monitor=127.0.0.1:1", "--project=glustermesh", "--stack=laba", "--pwd=/p", "--organization=organization", "--engine=127.0.0.1:2", "--root-directory=/p", "--parallel=16", "--dry-run"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestRunEnvCarriesConfigAndTypeScript(t *testing.T) {
	req := &pulumirpc.RunRequest{Config: map[string]string{"glustermesh:inventory": "inv"}, ConfigSecretKeys: []string{"glustermesh:sshPrivateKey"}}
	env, err := runEnv(req, map[string]any{"typescript": true})
	if err != nil {
		t.Fatal(err)
	}
	get := func(k string) string {
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, k+"="); ok {
				return v
			}
		}
		return ""
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(get("PULUMI_CONFIG")), &cfg); err != nil || cfg["glustermesh:inventory"] != "inv" {
		t.Fatalf("PULUMI_CONFIG %q", get("PULUMI_CONFIG"))
	}
	if get("PULUMI_CONFIG_SECRET_KEYS") != `["glustermesh:sshPrivateKey"]` || get("PULUMI_NODEJS_TYPESCRIPT") != "true" {
		t.Fatalf("env %v", env)
	}
	if env, _ := runEnv(req, map[string]any{"typescript": false}); slices.Contains(env, "PULUMI_NODEJS_TYPESCRIPT=true") {
		t.Fatal("typescript: false must not turn TypeScript on")
	}
}

func TestFindRunScriptWalksUp(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findRunScript(deep); err != nil || got != run {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := findRunScript(t.TempDir()); err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Fatalf("want an error that says to run npm ci, got %v", err)
	}
}
