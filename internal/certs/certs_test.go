package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-fs/cairn"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestInitMakesACAThatVerifiesItsHosts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	files, err := Init(dir, []string{"127.0.0.1", "nn1.example.com", "::1"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 8 {
		t.Fatalf("Init wrote %d files, want 8: %v", len(files), files)
	}
	for _, f := range files {
		if f.Kept {
			t.Errorf("%s kept in a new directory", f.Path)
		}
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("mode of %s = %v, want 0700", dir, m)
	}
	for name, want := range map[string]fs.FileMode{
		"ca.crt": 0o644, "ca.key": 0o600, "127.0.0.1.crt": 0o644, "127.0.0.1.key": 0o600,
		"nn1.example.com.crt": 0o644, "nn1.example.com.key": 0o600,
	} {
		if m := mode(t, filepath.Join(dir, name)); m != want {
			t.Errorf("mode of %s = %v, want %v", name, m, want)
		}
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if !ca.IsCA {
		t.Fatal("ca.crt is not a CA")
	}
	pool, err := LoadCA(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host    string
		ip      bool
		wrongAs string
	}{
		{"127.0.0.1", true, "127.0.0.2"},
		{"::1", true, "127.0.0.1"},
		{"nn1.example.com", false, "nn2.example.com"},
	} {
		c := readCert(t, filepath.Join(dir, tc.host+".crt"))
		if c.Subject.CommonName != tc.host {
			t.Errorf("%s: CommonName = %q", tc.host, c.Subject.CommonName)
		}
		if tc.ip {
			if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP(tc.host)) || len(c.DNSNames) != 0 {
				t.Errorf("%s: SANs IPs %v DNS %v, want the IP only", tc.host, c.IPAddresses, c.DNSNames)
			}
		} else if len(c.DNSNames) != 1 || c.DNSNames[0] != tc.host || len(c.IPAddresses) != 0 {
			t.Errorf("%s: SANs IPs %v DNS %v, want the name only", tc.host, c.IPAddresses, c.DNSNames)
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s: Verify for usage %v: %v", tc.host, usage, err)
			}
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.wrongAs}); err == nil {
			t.Errorf("%s verified as %s", tc.host, tc.wrongAs)
		}
		if _, err := Node(filepath.Join(dir, tc.host+".crt"), filepath.Join(dir, tc.host+".key"), filepath.Join(dir, "ca.crt")); err != nil {
			t.Errorf("Node(%s) = %v", tc.host, err)
		}
	}
}

func TestInitAgainReusesTheCAAndKeepsHosts(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, []string{"a"}, Options{}); err != nil {
		t.Fatal(err)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	aBefore, _ := os.ReadFile(filepath.Join(dir, "a.crt"))

	files, err := Init(dir, []string{"a", "b"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, f := range files {
		kept[filepath.Base(f.Path)] = f.Kept
	}
	want := map[string]bool{"ca.crt": true, "ca.key": true, "a.crt": true, "a.key": true, "b.crt": false, "b.key": false}
	for name, k := range want {
		if kept[name] != k {
			t.Errorf("%s kept = %v, want %v", name, kept[name], k)
		}
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	aAfter, _ := os.ReadFile(filepath.Join(dir, "a.crt"))
	if string(caBefore) != string(caAfter) || string(aBefore) != string(aAfter) {
		t.Fatal("Init without Force rewrote the CA or an existing host")
	}
	pool, err := LoadCA(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readCert(t, filepath.Join(dir, "b.crt")).Verify(x509.VerifyOptions{Roots: pool, DNSName: "b"}); err != nil {
		t.Fatalf("b, added later, does not verify with the first CA: %v", err)
	}

	if _, err := Init(dir, []string{"a"}, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	aForced, _ := os.ReadFile(filepath.Join(dir, "a.crt"))
	caForced, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if string(aForced) == string(aBefore) {
		t.Error("Init with Force kept a's certificate")
	}
	if string(caForced) != string(caBefore) {
		t.Error("Init with Force replaced the CA")
	}
}

func TestInitRefusesAHalfCA(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, []string{"a"}, Options{}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "ca.key"))
	if _, err := Init(dir, []string{"b"}, Options{}); err == nil {
		t.Fatal("Init made a new CA beside an existing ca.crt")
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, []string{"a", "b"}, Options{}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := Init(other, []string{"a"}, Options{}); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("hello"), 0o644)
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name             string
		cert, key, ca    string
		wantFile, wantIn string
		kind             cairn.Kind
	}{
		{"a missing certificate", p("nope.crt"), p("a.key"), p("ca.crt"), "nope.crt", "no such file", cairn.NotExist},
		{"a certificate that is not PEM", junk, p("a.key"), p("ca.crt"), "junk.pem", "no PEM certificate", cairn.Invalid},
		{"a key of another certificate", p("a.crt"), p("b.key"), p("ca.crt"), "b.key", "does not go with", cairn.Invalid},
		{"a CA that is not a CA", p("a.crt"), p("a.key"), p("b.crt"), "b.crt", "is not a CA", cairn.Invalid},
		{"a CA that did not sign the certificate", filepath.Join(other, "a.crt"), filepath.Join(other, "a.key"), p("ca.crt"), "a.crt", "not signed by the CA", cairn.Invalid},
		{"a certificate without a key", p("a.crt"), "", p("ca.crt"), "", "--tls-cert needs --tls-key", cairn.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Node(tc.cert, tc.key, tc.ca)
			if err == nil {
				t.Fatal("Node succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantFile) || !strings.Contains(msg, tc.wantIn) || strings.Contains(msg, "\n") {
				t.Errorf("Node error %q, want one line naming %q and saying %q", msg, tc.wantFile, tc.wantIn)
			}
			if k := cairn.KindOf(err); k != tc.kind {
				t.Errorf("kind %v, want %v", k, tc.kind)
			}
		})
	}
}

func TestNodeAndClientShakeHands(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, []string{"127.0.0.1"}, Options{}); err != nil {
		t.Fatal(err)
	}
	srv, err := Node(filepath.Join(dir, "127.0.0.1.crt"), filepath.Join(dir, "127.0.0.1.key"), filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Client(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	for name, cfg := range map[string]*tls.Config{"client without a certificate": cli, "node": srv} {
		c := cfg.Clone()
		c.ServerName = "127.0.0.1"
		conn, err := tls.Dial("tcp", lis.Addr().String(), c)
		if err != nil {
			t.Errorf("%s: handshake: %v", name, err)
			continue
		}
		conn.Close()
	}
	// A client that does not trust the CA refuses the server.
	conn, err := tls.Dial("tcp", lis.Addr().String(), &tls.Config{ServerName: "127.0.0.1"})
	var uerr x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uerr) {
		t.Errorf("dial without the CA: %v, want an unknown authority", err)
	}
	if conn != nil {
		conn.Close()
	}
}
