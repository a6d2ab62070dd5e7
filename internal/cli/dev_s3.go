package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// devCredentialsFile is the file in a dev cluster's directory that
// holds its S3 gateway's credentials, in the format of 'cairn s3
// --credentials'.
const devCredentialsFile = "s3-credentials"

// devGateway is the S3 gateway of 'cairn dev': bound at start, made
// once the NameNode answers.
type devGateway struct {
	lis       net.Listener
	credsPath string
	cred      sigv4.Credential // the first, printed in the banner
	creds     sigv4.StaticCredentials
	handler   lateHandler
	ready     chan struct{} // closed once the gateway serves
}

// bindGateway binds --s3-addr and reads (or makes) the dev cluster's
// credentials.
func (d *devCmd) bindGateway(log *slog.Logger) (*devGateway, error) {
	const op = "dev"
	path := filepath.Join(d.dir, devCredentialsFile)
	creds, cred, err := devCredentials(path, log)
	if err != nil {
		return nil, fail(op, path, err)
	}
	lis, err := listen(op, d.s3Addr)
	if err != nil {
		if cairn.KindOf(err) == cairn.Unavailable {
			return nil, failf(op, d.s3Addr, cairn.Unavailable,
				"%s (the S3 gateway's port: pass --s3-addr 127.0.0.1:0 for a free one, or --s3-addr \"\" for none)", reason(err))
		}
		return nil, err
	}
	return &devGateway{lis: lis, credsPath: path, cred: cred, creds: creds, ready: make(chan struct{})}, nil
}

// devCredentials reads the credentials file at path, or writes a new
// one with a random key acting as the OS user. It returns them all and
// the first of the file, the one the banner shows.
func devCredentials(path string, log *slog.Logger) (sigv4.StaticCredentials, sigv4.Credential, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		c := sigv4.Credential{AccessKey: "CAIRNDEV" + randomString(12, upperDigits), SecretKey: randomString(40, secretChars), User: osUserName()}
		if err := writeCredentialsFile(path, c); err != nil {
			return nil, sigv4.Credential{}, err
		}
		return staticCredentials([]sigv4.Credential{c}), c, nil
	}
	creds, warning, err := readCredentialsFile(path)
	if err != nil {
		// The error line names the file already.
		return nil, sigv4.Credential{}, errors.New(strings.TrimPrefix(err.Error(), "credentials file "+path+": "))
	}
	if warning != "" && log != nil {
		log.Warn(warning)
	}
	return staticCredentials(creds), creds[0], nil
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString returns n characters drawn uniformly from alphabet
// (at most 256 characters long) with crypto/rand.
func randomString(n int, alphabet string) string {
	out := make([]byte, 0, n)
	var b [1]byte
	limit := 256 - 256%len(alphabet)
	for len(out) < n {
		rand.Read(b[:])
		if int(b[0]) < limit {
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out)
}

// node is the gateway's node for runNodes: its serve loop dials the
// NameNodes at nnAddr, makes the gateway and runs it until the context
// ends; until it is made, requests get 503.
func (g *devGateway) node(nnAddr string, clientOpts func(context.Context) ([]client.Option, error), log *slog.Logger) node {
	run := func(ctx context.Context) error {
		octx, cancel := context.WithTimeout(ctx, devLiveTimeout)
		opts, err := clientOpts(octx)
		cancel()
		if err != nil {
			return err
		}
		c, err := client.Dial(ctx, nnAddr, append(opts, client.WithDialTimeout(devLiveTimeout))...)
		if err != nil {
			return err
		}
		defer c.Close()
		gw, err := newGateway(c, s3Settings{root: defaultS3Root, creds: g.creds}, log.With("s3", g.lis.Addr().String()))
		if err != nil {
			return err
		}
		g.handler.set(gw)
		close(g.ready)
		if err := gw.Run(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	return s3Node("s3", &g.handler, run, g.lis, func() error { return nil })
}

// wait waits until the gateway serves, a node fails (errc) or ctx ends.
func (g *devGateway) wait(ctx context.Context, errc chan error) error {
	t := time.NewTimer(devLiveTimeout)
	defer t.Stop()
	select {
	case <-g.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case err := <-errc:
		errc <- err // leave it for the caller
		if err == nil {
			return failf("dev", g.lis.Addr().String(), cairn.Unavailable, "cluster stopped while starting")
		}
		return err
	case <-t.C:
		return failf("dev", g.lis.Addr().String(), cairn.Unavailable, "the S3 gateway did not start within %v", devLiveTimeout)
	}
}

// awsLine is a command line that lists the buckets with the aws
// command line, credentials included; with ca (a secured cluster's CA
// file) over HTTPS, trusting it.
func (g *devGateway) awsLine(ca string) string {
	if ca != "" {
		return fmt.Sprintf("AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s aws --endpoint-url https://%s --ca-bundle %s s3 ls",
			g.cred.AccessKey, g.cred.SecretKey, sigv4.DefaultRegion, g.lis.Addr(), ca)
	}
	return fmt.Sprintf("AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s aws --endpoint-url http://%s s3 ls",
		g.cred.AccessKey, g.cred.SecretKey, sigv4.DefaultRegion, g.lis.Addr())
}
