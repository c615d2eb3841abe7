package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestClusterFlags(t *testing.T) {
	c, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if c.clustered() || c.Ring.ReplicationFactor != 1 || c.Ring.Tokens != 128 || c.Memberlist.Port != 7946 ||
		c.Memberlist.BindAddr != "0.0.0.0" || c.Node.Name != host || len(c.Memberlist.Join) != 0 {
		t.Errorf("defaults: %+v %+v %+v %+v", c.Node, c.Memberlist, c.Ring, c.Cluster)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "loam.yaml")
	os.WriteFile(file, []byte("memberlist:\n  join_members: [x:1, y:2]\n  bind_port: 8000\nring:\n  replication_factor: 3\nnode:\n  name: n1\n"), 0o644)
	for _, tc := range []struct {
		args      []string
		join      []string
		clustered bool
	}{
		{[]string{"-memberlist.join", "a:1"}, []string{"a:1"}, true},
		{[]string{"-memberlist.join", "a:1", "-memberlist.join", "b:2, c:3"}, []string{"a:1", "b:2", "c:3"}, true},
		{[]string{"-ring.replication-factor", "2"}, nil, true},
		{[]string{"-config.file", file}, []string{"x:1", "y:2"}, true},
		// The command line's joins replace the file's, not add to them.
		{[]string{"-config.file", file, "-memberlist.join", "a:1"}, []string{"a:1"}, true},
		{[]string{"-memberlist.join", "a:1", "-config.file", file}, []string{"a:1"}, true},
	} {
		c, err := parseConfig(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !slices.Equal(c.Memberlist.Join, tc.join) || c.clustered() != tc.clustered {
			t.Errorf("%v: join %q clustered %v", tc.args, c.Memberlist.Join, c.clustered())
		}
	}
	c, _ = parseConfig([]string{"-config.file", file})
	if c.Memberlist.Port != 8000 || c.Ring.ReplicationFactor != 3 || c.Node.Name != "n1" {
		t.Errorf("from the file: %+v %+v %+v", c.Memberlist, c.Ring, c.Node)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-ring.replication-factor", "0"}, "-ring.replication-factor"},
		{[]string{"-ring.tokens", "0"}, "-ring.tokens"},
		{[]string{"-ring.tokens", "5000"}, "-ring.tokens"},
		{[]string{"-memberlist.port", "70000"}, "-memberlist.port"},
		{[]string{"-memberlist.advertise-addr", "node-1.example"}, "not an IP address"},
		{[]string{"-node.name", "", "-memberlist.join", "a:1"}, "-node.name"},
	} {
		if _, err := parseConfig(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}

func TestClusterSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	secret := func(path string) ([]byte, error) {
		c := &config{}
		c.Cluster.SecretFile = path
		return clusterSecret(c)
	}
	a, err := secret(write("a", "s3cret\n"))
	b, err2 := secret(write("b", "  s3cret"))
	if err != nil || err2 != nil || string(a) != "s3cret" || string(b) != "s3cret" {
		t.Errorf("%q %v, %q %v", a, err, b, err2)
	}
	if s, err := secret(""); s != nil || err != nil {
		t.Errorf("no file: %q %v", s, err)
	}
	if _, err := secret(write("empty", " \n")); err == nil {
		t.Error("an empty secret was accepted")
	}
	if _, err := secret(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
}
