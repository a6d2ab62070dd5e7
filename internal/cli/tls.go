package cli

import (
	"crypto/tls"
	"errors"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/certs"
)

// envTLSCA names the CA file of a client command when --tls-ca is not
// given. (The server commands read CAIRN_TLS_CA as every flag's
// CAIRN_<FLAG>, through withConfig.)
const envTLSCA = "CAIRN_TLS_CA"

// tlsFlags are --tls-cert, --tls-key and --tls-ca of a server command.
type tlsFlags struct {
	cert, key, ca string
}

// addServer adds the three flags of a node (namenode, datanode) or a
// gateway (s3).
func (t *tlsFlags) addServer(f *pflag.FlagSet) {
	f.StringVar(&t.cert, "tls-cert", "", "this server's TLS certificate (PEM), signed by --tls-ca; with --tls-key and --tls-ca every connection is TLS (empty: plaintext)")
	f.StringVar(&t.key, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.StringVar(&t.ca, "tls-ca", "", "the CA certificate (PEM) that signed the cluster's certificates (cairn admin certs init writes one)")
}

// node returns the TLS configuration of a node: nil without the flags,
// else mutual TLS with its certificate and the CA, which it needs all
// three of.
func (t *tlsFlags) node(op string) (*tls.Config, error) {
	f := certs.Files{Cert: t.cert, Key: t.key, CA: t.ca}
	if !f.Enabled() {
		return nil, nil
	}
	if err := f.Check(true); err != nil {
		return nil, usageError("%v", err)
	}
	cfg, err := certs.Node(t.cert, t.key, t.ca)
	if err != nil {
		return nil, tlsFileErr(op, err)
	}
	return cfg, nil
}

// clientTLS returns the TLS configuration of a client of the cluster:
// nil (plaintext) without a CA file, else one that trusts the servers
// the CA of caFile (or $CAIRN_TLS_CA when caFile is empty) signed.
func (e *env) clientTLS(op, caFile string) (*tls.Config, error) {
	if caFile == "" {
		caFile = strings.TrimSpace(e.getenv(envTLSCA))
	}
	if caFile == "" {
		return nil, nil
	}
	cfg, err := certs.Client(caFile)
	if err != nil {
		return nil, tlsFileErr(op, err)
	}
	return cfg, nil
}

// clientTLSOption is clientTLS as a client option.
func (e *env) clientTLSOption(op, caFile string) (client.Option, error) {
	cfg, err := e.clientTLS(op, caFile)
	if err != nil {
		return nil, err
	}
	return client.WithTLS(cfg), nil
}

// tlsFileErr is the one-line error of a TLS file that cannot be used:
// "namenode /etc/cairn/nn.key: key does not go with certificate ...".
func tlsFileErr(op string, err error) error {
	var ce *cairn.Error
	if errors.As(err, &ce) && ce.Path != "" {
		return fail(op, ce.Path, err)
	}
	return fail(op, "", err)
}
