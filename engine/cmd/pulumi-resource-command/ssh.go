package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// sessionsPerHost stays under sshd's default MaxSessions (10) for one connection.
const sessionsPerHost = 8

// sshPool keeps one connection per target for the life of the provider: a deploy runs dozens of
// steps on each node, and a login per step would trip sshd's MaxStartups on a busy host.
type sshPool struct {
	mu      sync.Mutex
	clients map[string]*pooled
}

type pooled struct {
	client   *ssh.Client
	sessions chan struct{}
	dead     chan struct{}
}

func newSSHPool() *sshPool { return &sshPool{clients: map[string]*pooled{}} }

func (p *sshPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.clients {
		_ = c.client.Close()
		delete(p.clients, k)
	}
}

func (p *sshPool) get(ctx context.Context, c *connection) (*pooled, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc, ok := p.clients[c.key()]; ok {
		select {
		case <-pc.dead:
		default:
			return pc, nil
		}
	}
	client, err := dialWithRetries(ctx, c)
	if err != nil {
		return nil, err
	}
	pc := &pooled{client: client, sessions: make(chan struct{}, sessionsPerHost), dead: make(chan struct{})}
	go keepAlive(pc)
	p.clients[c.key()] = pc
	return pc, nil
}

// keepAlive closes a connection whose host stopped answering, so that a command on a host that
// died fails within seconds instead of waiting for TCP to give up.
func keepAlive(pc *pooled) {
	go func() { _ = pc.client.Wait(); close(pc.dead) }()
	for {
		select {
		case <-pc.dead:
			return
		case <-time.After(5 * time.Second):
		}
		answered := make(chan struct{})
		go func() { _, _, _ = pc.client.SendRequest("keepalive@openssh.com", true, nil); close(answered) }()
		select {
		case <-answered:
		case <-pc.dead:
			return
		case <-time.After(20 * time.Second):
			_ = pc.client.Close()
			return
		}
	}
}

func clientConfig(c *connection) (*ssh.ClientConfig, error) {
	var auth []ssh.AuthMethod
	if c.privateKey != "" {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.privateKey), []byte(c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.privateKey))
		}
		if err != nil {
			return nil, fmt.Errorf("connection to %s: the private key cannot be read: %w", c.address(), err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if c.password != "" {
		auth = append(auth, ssh.Password(c.password))
	}
	hostKey := ssh.InsecureIgnoreHostKey() // upstream: no hostKey set means none is checked
	if c.hostKey != "" {
		pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.hostKey))
		if err != nil {
			return nil, fmt.Errorf("connection to %s: hostKey %q is not an SSH public key: %w", c.address(), c.hostKey, err)
		}
		hostKey = ssh.FixedHostKey(pinned)
	}
	return &ssh.ClientConfig{User: c.user, Auth: auth, HostKeyCallback: hostKey, Timeout: time.Duration(c.perDialTimeout) * time.Second}, nil
}

func dialOnce(ctx context.Context, c *connection) (*ssh.Client, error) {
	cfg, err := clientConfig(c)
	if err != nil {
		return nil, err
	}
	var raw net.Conn
	if c.proxy != nil {
		via, err := dialWithRetries(ctx, c.proxy)
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", c.proxy.address(), err)
		}
		if raw, err = via.Dial("tcp", c.address()); err != nil {
			_ = via.Close()
			return nil, err
		}
	} else {
		d := net.Dialer{Timeout: cfg.Timeout}
		if raw, err = d.DialContext(ctx, "tcp", c.address()); err != nil {
			return nil, err
		}
	}
	_ = raw.SetDeadline(time.Now().Add(cfg.Timeout))
	conn, chans, reqs, err := ssh.NewClientConn(raw, c.address(), cfg)
	if err != nil {
		_ = raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}

// dialWithRetries dials up to dialErrorLimit times; a host key mismatch is final at once.
func dialWithRetries(ctx context.Context, c *connection) (*ssh.Client, error) {
	var last error
	for attempt := 1; attempt <= max(c.dialErrorLimit, 1); attempt++ {
		client, err := dialOnce(ctx, c)
		if err == nil {
			return client, nil
		}
		last = err
		if final(err) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * time.Second):
		}
	}
	return nil, fmt.Errorf("cannot connect to %s@%s: %w", c.user, c.address(), last)
}

// final: a wrong host key or refused credentials do not get better by trying again.
func final(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "host key mismatch") || strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "cannot be read")
}

type runSpec struct {
	script string
	stdin  string
	env    map[string]string
}

// run runs one command in a session of the target's connection, retrying once on a connection
// that died since it was pooled.
func (p *sshPool) run(ctx context.Context, c *connection, r runSpec) (string, string, error) {
	return p.session(ctx, c, func(s *ssh.Session) (string, string, error) {
		for k, v := range r.env {
			_ = s.Setenv(k, v) // as upstream: a server that refuses it (AcceptEnv) runs the command all the same
		}
		var stdout, stderr bytes.Buffer
		s.Stdout, s.Stderr = &stdout, &stderr
		if r.stdin != "" {
			s.Stdin = strings.NewReader(r.stdin)
		}
		err := runCtx(ctx, s, r.script)
		if err != nil {
			return stdout.String(), stderr.String(), fmt.Errorf("on %s@%s: %w\n%s", c.user, c.address(), err, tail(stdout.String()+stderr.String(), 40))
		}
		return stdout.String(), stderr.String(), nil
	})
}

func (p *sshPool) session(ctx context.Context, c *connection, f func(*ssh.Session) (string, string, error)) (string, string, error) {
	for attempt := 0; ; attempt++ {
		pc, err := p.get(ctx, c)
		if err != nil {
			return "", "", err
		}
		select {
		case pc.sessions <- struct{}{}:
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
		s, err := pc.client.NewSession()
		if err != nil {
			<-pc.sessions
			_ = pc.client.Close()
			if attempt == 0 {
				<-pc.dead
				continue
			}
			return "", "", fmt.Errorf("on %s@%s: cannot open a session: %w", c.user, c.address(), err)
		}
		stdout, stderr, err := f(s)
		_ = s.Close()
		<-pc.sessions
		return stdout, stderr, err
	}
}

func runCtx(ctx context.Context, s *ssh.Session, cmd string) error {
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGTERM)
		_ = s.Close()
		return ctx.Err()
	}
}

// copyAsset writes the asset's bytes to remotePath (into it, when it is a directory), through a
// temporary file renamed into place, keeping a path asset's file mode.
func (p *sshPool) copyAsset(ctx context.Context, c *connection, source resource.PropertyValue, remotePath string) error {
	src := plain(source)
	if !src.IsAsset() {
		return fmt.Errorf("CopyToRemote: this provider copies an asset (a FileAsset or StringAsset), not an archive")
	}
	a := src.AssetValue()
	data, err := a.Bytes()
	if err != nil {
		return fmt.Errorf("CopyToRemote: reading %s: %w", a.Path, err)
	}
	mode := os.FileMode(0o644)
	base := "asset"
	if a.IsPath() {
		if st, err := os.Stat(a.Path); err == nil {
			mode = st.Mode().Perm()
		}
		base = path.Base(a.Path)
	}
	script := fmt.Sprintf(`set -e
d=%s
if [ -d "$d" ]; then d="$d/"%s; fi
t=$(mktemp "$(dirname -- "$d")/.pulumi-copy.XXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
chmod %o "$t"
mv -f -- "$t" "$d"
trap - EXIT
`, shellQuote(remotePath), shellQuote(base), mode)
	_, _, err = p.session(ctx, c, func(s *ssh.Session) (string, string, error) {
		var out bytes.Buffer
		s.Stdout, s.Stderr, s.Stdin = &out, &out, bytes.NewReader(data)
		if err := runCtx(ctx, s, script); err != nil {
			return "", "", fmt.Errorf("copying to %s on %s@%s: %w\n%s", remotePath, c.user, c.address(), err, tail(out.String(), 20))
		}
		return "", "", nil
	})
	return err
}

// shellQuote makes one shell word of s (single quotes; a quote inside as '\'').
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
