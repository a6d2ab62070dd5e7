package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn/internal/certs"
)

// newCertsCmd builds 'cairn admin certs' and its subcommands.
func newCertsCmd(e *env) *cobra.Command {
	cmd := newGroupCmd("certs", "Make the TLS certificates of a cluster (init)")
	cmd.AddCommand(newCertsInitCmd(e))
	return cmd
}

// certsInitJSON is the output of 'cairn admin certs init --json'. The
// field names are a contract with scripts: never rename them.
type certsInitJSON struct {
	Dir   string       `json:"dir"`
	Files []certs.File `json:"files"` // {path, what ("ca" or the host), kept}
}

func newCertsInitCmd(e *env) *cobra.Command {
	var dir, hosts string
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "init --dir DIR --hosts H1,H2,... [--force] [--json]",
		Short: "Write a CA and a certificate for each host, for --tls-cert, --tls-key and --tls-ca",
		Long: `Write into --dir a certificate authority (ca.crt, ca.key) and, for each
host of --hosts, a certificate signed by it (<host>.crt, <host>.key): the
files of the servers' --tls-cert, --tls-key and --tls-ca, and of the
clients' --tls-ca (ca.crt). A host is an IP address or a DNS name, as the
others will dial it; its certificate names it (as an IP or a DNS subject
alternative name) and serves as both a server's and a client's, since the
nodes authenticate each other. Keys are ECDSA P-256, valid for 10 years;
the keys are written mode 0600, the certificates 0644, --dir 0700.

Run again on the same --dir to add hosts: the CA there signs them. A host
whose files exist is kept as it is unless --force; the CA is never
replaced. Keep ca.key away from the servers: only this command needs it.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runE(func(ctx context.Context, _ []string) error {
			const op = "certs init"
			if dir == "" {
				return usageError("--dir is required: the directory to write the certificates into")
			}
			var list []string
			for _, h := range strings.Split(hosts, ",") {
				if h = strings.TrimSpace(h); h != "" {
					list = append(list, h)
				}
			}
			if len(list) == 0 {
				return usageError("--hosts is required: the hosts' names or IP addresses, comma separated")
			}
			files, err := certs.Init(dir, list, certs.Options{Force: force})
			if err != nil {
				return fail(op, dir, err)
			}
			if asJSON {
				return writeJSON(e.stdout, certsInitJSON{Dir: dir, Files: files})
			}
			var b strings.Builder
			for _, f := range files {
				verb := "wrote"
				if f.Kept {
					verb = "kept "
				}
				fmt.Fprintf(&b, "%s %s\n", verb, f.Path)
			}
			_, err = fmt.Fprint(e.stdout, b.String())
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory to write the files into (required; made if missing)")
	f.StringVar(&hosts, "hosts", "", "hosts to make certificates for: IP addresses or DNS names, comma separated (required)")
	f.BoolVar(&force, "force", false, "replace the certificate and key of a host that has them")
	f.BoolVar(&asJSON, "json", false, "print JSON: {dir, files: [{path, what, kept}]}")
	return cmd
}
