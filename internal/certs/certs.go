package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/atomicfile"
)

// The names of the CA's files in a directory made by Init.
const (
	CACert = "ca.crt"
	CAKey  = "ca.key"
)

// Validity is how long the CA and the host certificates Init makes are
// valid.
const Validity = 10 * 365 * 24 * time.Hour

// Options configures Init.
type Options struct {
	// Force overwrites the files of a host that already has them; the
	// CA's files are never overwritten.
	Force bool
	// Now is the time the certificates are valid from (less a minute
	// of allowance for clocks); zero: time.Now.
	Now time.Time
}

// File is a file Init wrote or kept.
type File struct {
	Path string `json:"path"`
	// What is "ca" or the host the file belongs to.
	What string `json:"what"`
	// Kept says the file existed and was used as it was (the CA's
	// files, or a host's without Force).
	Kept bool `json:"kept"`
}

// Init writes into dir the CA's files (or reuses those already there)
// and, for each host, its certificate and key signed by the CA, and
// returns the files in the order CA certificate, CA key, then each
// host's certificate and key.
func Init(dir string, hosts []string, o Options) ([]File, error) {
	const op = "certs.Init"
	if dir == "" {
		return nil, cairn.E(op, cairn.Invalid, errors.New("no directory given"))
	}
	if len(hosts) == 0 {
		return nil, cairn.E(op, dir, cairn.Invalid, errors.New("no hosts given"))
	}
	seen := make(map[string]bool)
	for _, h := range hosts {
		if err := checkHost(h); err != nil {
			return nil, cairn.E(op, h, cairn.Invalid, err)
		}
		if seen[h] {
			return nil, cairn.Errorf(op, h, cairn.Invalid, "host given twice")
		}
		seen[h] = true
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, cairn.E(op, dir, err)
	}
	var files []File
	caCertPath, caKeyPath := filepath.Join(dir, CACert), filepath.Join(dir, CAKey)
	ca, caKey, err := loadCA(caCertPath, caKeyPath)
	switch {
	case err == nil:
		files = append(files, File{caCertPath, "ca", true}, File{caKeyPath, "ca", true})
	case errors.Is(err, fs.ErrNotExist) && !exists(caCertPath) && !exists(caKeyPath):
		var keyBlock *pem.Block
		if ca, keyBlock, caKey, err = newCA(now); err != nil {
			return nil, cairn.E(op, dir, err)
		}
		if err := writePEM(caKeyPath, 0o600, keyBlock); err != nil {
			return nil, cairn.E(op, caKeyPath, err)
		}
		if err := writePEM(caCertPath, 0o644, ca); err != nil {
			return nil, cairn.E(op, caCertPath, err)
		}
		files = append(files, File{caCertPath, "ca", false}, File{caKeyPath, "ca", false})
	default:
		// One of the two exists without the other, or is unreadable:
		// making a new CA would orphan the certificates signed by it.
		return nil, cairn.E(op, dir, err)
	}
	for _, h := range hosts {
		certPath, keyPath := filepath.Join(dir, h+".crt"), filepath.Join(dir, h+".key")
		if !o.Force && (exists(certPath) || exists(keyPath)) {
			files = append(files, File{certPath, h, true}, File{keyPath, h, true})
			continue
		}
		cert, key, err := newHost(h, ca, caKey, now)
		if err != nil {
			return nil, cairn.E(op, h, err)
		}
		if err := writePEM(keyPath, 0o600, key); err != nil {
			return nil, cairn.E(op, keyPath, err)
		}
		if err := writePEM(certPath, 0o644, cert); err != nil {
			return nil, cairn.E(op, certPath, err)
		}
		files = append(files, File{certPath, h, false}, File{keyPath, h, false})
	}
	return files, nil
}

// checkHost checks that h can name a host and its files.
func checkHost(h string) error {
	switch {
	case h == "":
		return errors.New("empty host name")
	case h == "ca":
		return errors.New(`"ca" names the CA's files, not a host`)
	case strings.ContainsAny(h, "/\\ \t\n") || h == "." || h == "..":
		return errors.New("not a host name or IP address")
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// newSerial returns a random 128-bit serial number.
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// newCA makes a CA: its certificate and key as PEM blocks, and the
// key.
func newCA(now time.Time) (*pem.Block, *pem.Block, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cairn CA", Organization: []string{"cairn"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return &pem.Block{Type: "CERTIFICATE", Bytes: der}, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}, key, nil
}

// newHost makes host's certificate, signed by the CA, and its key.
func newHost(host string, caBlock *pem.Block, caKey crypto.Signer, now time.Time) (*pem.Block, *pem.Block, error) {
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(Validity)
	if ca.NotAfter.Before(notAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"cairn"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return &pem.Block{Type: "CERTIFICATE", Bytes: der}, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}, nil
}

// loadCA reads the CA's certificate and key; an error wrapping
// fs.ErrNotExist if either is missing.
func loadCA(certPath, keyPath string) (*pem.Block, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("ca %s, %s: %w", certPath, keyPath, err)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("ca %s: %w", certPath, err)
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("ca %s: not a CA certificate", certPath)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("ca %s: key cannot sign", keyPath)
	}
	return &pem.Block{Type: "CERTIFICATE", Bytes: pair.Certificate[0]}, signer, nil
}

// writePEM writes b to path with mode perm, atomically.
func writePEM(path string, perm os.FileMode, b *pem.Block) error {
	if err := atomicfile.Write(path, pem.EncodeToMemory(b), perm); err != nil {
		return err
	}
	// The umask may have taken bits away; a key must not have more.
	return os.Chmod(path, perm)
}
