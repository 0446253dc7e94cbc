package main

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// plain strips the secret and output wrappers the engine sends (the provider accepts secrets).
func plain(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func stringValue(v resource.PropertyValue) string {
	v = plain(v)
	switch {
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64)
	case v.IsBool():
		return strconv.FormatBool(v.BoolValue())
	default:
		return ""
	}
}

func stringOf(m resource.PropertyMap, key string) string {
	return stringValue(m[resource.PropertyKey(key)])
}

func numberOr(m resource.PropertyMap, key string, def int) int {
	if v := plain(m[resource.PropertyKey(key)]); v.IsNumber() {
		return int(v.NumberValue())
	}
	return def
}

func boolOr(m resource.PropertyMap, key string, def bool) bool {
	if v := plain(m[resource.PropertyKey(key)]); v.IsBool() {
		return v.BoolValue()
	}
	return def
}

// connection is one SSH endpoint of the `connection` input (or of its `proxy`).
type connection struct {
	host, user, privateKey, privateKeyPassword, password, hostKey string
	port, dialErrorLimit, perDialTimeout                         int
	proxy                                                        *connection
}

func parseConnection(v resource.PropertyValue) (*connection, error) {
	v = plain(v)
	if !v.IsObject() {
		return nil, fmt.Errorf("the resource has no connection")
	}
	m := v.ObjectValue()
	c := &connection{
		host:               stringOf(m, "host"),
		user:               stringOf(m, "user"),
		privateKey:         stringOf(m, "privateKey"),
		privateKeyPassword: stringOf(m, "privateKeyPassword"),
		password:           stringOf(m, "password"),
		hostKey:            stringOf(m, "hostKey"),
		port:               numberOr(m, "port", 22),
		dialErrorLimit:     numberOr(m, "dialErrorLimit", 10),
		perDialTimeout:     numberOr(m, "perDialTimeout", 15),
	}
	if c.host == "" {
		return nil, fmt.Errorf("connection.host is empty")
	}
	if c.user == "" {
		c.user = "root"
	}
	if stringOf(m, "agentSocketPath") != "" {
		return nil, fmt.Errorf("connection.agentSocketPath is not supported by this provider: use privateKey")
	}
	if p, ok := m["proxy"]; ok && !plain(p).IsNull() {
		proxy, err := parseConnection(p)
		if err != nil {
			return nil, fmt.Errorf("connection.proxy: %w", err)
		}
		c.proxy = proxy
	}
	return c, nil
}

func (c *connection) address() string { return fmt.Sprintf("%s:%d", c.host, c.port) }

// key identifies the target for the connection pool: same endpoint, user, credentials, pin.
func (c *connection) key() string {
	k := fmt.Sprintf("%s@%s|%s|%s|%s|%s", c.user, c.address(), c.privateKey, c.password, c.hostKey, c.privateKeyPassword)
	if c.proxy != nil {
		k += " via " + c.proxy.key()
	}
	return k
}
