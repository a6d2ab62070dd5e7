package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cairn-fs/cairn"
)

// Files names the TLS files of a node or a client, as the flags
// --tls-cert, --tls-key and --tls-ca give them. Empty fields are not
// given.
type Files struct {
	Cert string // the node's certificate (PEM)
	Key  string // its private key (PEM)
	CA   string // the CA's certificate (PEM), that signed every node's
}

// Enabled reports whether any file is given.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Check says what is wrong with the combination of files given, for a
// server (which needs all three or none) if server is set, else for a
// client (which needs the CA, and a certificate only with its key).
func (f Files) Check(server bool) error {
	switch {
	case f.Cert != "" && f.Key == "":
		return errors.New("--tls-cert needs --tls-key: the certificate's private key")
	case f.Key != "" && f.Cert == "":
		return errors.New("--tls-key needs --tls-cert: the certificate of the key")
	case f.Cert != "" && f.CA == "":
		return errors.New("--tls-cert needs --tls-ca: the CA that signed the cluster's certificates")
	case server && f.CA != "" && f.Cert == "":
		return errors.New("--tls-ca on a server needs --tls-cert and --tls-key: the node's own certificate")
	}
	return nil
}

// Node returns the TLS configuration of a node (a NameNode, a DataNode,
// a gateway) for both ends of mutual TLS: it presents the certificate
// of certFile and keyFile, and trusts the certificates signed by the CA
// of caFile, as a server (clients that show a certificate must have one
// signed by the CA; clients without one may connect, for the services
// to decide what they may do) and as a client (servers must show one).
func Node(certFile, keyFile, caFile string) (*tls.Config, error) {
	const op = "certs.Node"
	if err := (Files{certFile, keyFile, caFile}).Check(true); err != nil {
		return nil, cairn.E(op, cairn.Invalid, err)
	}
	pool, err := LoadCA(caFile)
	if err != nil {
		return nil, err
	}
	pair, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, cairn.Errorf(op, certFile, cairn.Invalid, "not signed by the CA of %s: %v", caFile, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// Client returns the TLS configuration of a client: it trusts the
// servers whose certificates the CA of caFile signed, and shows no
// certificate of its own.
func Client(caFile string) (*tls.Config, error) {
	pool, err := LoadCA(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// ClientOf returns the configuration of a client made from a node's
// (Node): the same CA, without the node's certificate, for the
// clients a node runs on behalf of users (WebHDFS, the web UI).
func ClientOf(node *tls.Config) *tls.Config {
	if node == nil {
		return nil
	}
	return &tls.Config{RootCAs: node.RootCAs, MinVersion: node.MinVersion}
}

// LoadCA reads a CA's certificate (PEM; several are all trusted) into
// a pool.
func LoadCA(caFile string) (*x509.CertPool, error) {
	const op = "certs.LoadCA"
	if caFile == "" {
		return nil, cairn.E(op, cairn.Invalid, errors.New("no CA file given"))
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fileErr(op, caFile, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, cairn.Errorf(op, caFile, cairn.Invalid, "bad certificate: %v", err)
		}
		if !c.IsCA {
			return nil, cairn.Errorf(op, caFile, cairn.Invalid, "certificate %q is not a CA", c.Subject.CommonName)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, cairn.Errorf(op, caFile, cairn.Invalid, "no PEM certificate in the file")
	}
	return pool, nil
}

// loadPair reads a certificate and its key, with one-line errors that
// name the file at fault.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	const op = "certs.Load"
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fileErr(op, certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fileErr(op, keyFile, err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return tls.Certificate{}, cairn.Errorf(op, certFile, cairn.Invalid, "no PEM certificate in the file")
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type == "CERTIFICATE" {
		return tls.Certificate{}, cairn.Errorf(op, keyFile, cairn.Invalid, "no PEM private key in the file")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, cairn.Errorf(op, keyFile, cairn.Invalid, "key does not go with certificate %s: %v", certFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, cairn.Errorf(op, certFile, cairn.Invalid, "bad certificate: %v", err)
		}
	}
	return pair, nil
}

// fileErr is the error of a file that could not be read.
func fileErr(op, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cairn.Errorf(op, path, cairn.NotExist, "no such file")
	case errors.Is(err, fs.ErrPermission):
		return cairn.Errorf(op, path, cairn.Permission, "permission denied")
	}
	return cairn.E(op, path, fmt.Errorf("cannot read: %w", err))
}
