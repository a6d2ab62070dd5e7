package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/cairn-fs/cairn/internal/s3/sigv4"
)

// The credentials file of 'cairn s3 --credentials FILE' (docs/S3.md):
//
//	# ACCESS_KEY            SECRET_KEY                                USER
//	AKIAALICE000000000001   wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY  alice
//	AKIABOB00000000000002   je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY  bob
//
// One credential a line: three fields separated by spaces or tabs, the
// access key, its secret key and the cairn user its requests act as.
// A line whose first non-blank character is '#' is a comment (a '#'
// later on a line belongs to the field it is in: a secret may hold
// one); blank lines are ignored. An access key is at most
// maxAccessKeyLen printable ASCII characters without '/' (the
// credential scope of a signature separates its parts with '/'); it
// may appear once. The file must not be readable or writable by others
// than its owner and group (mode & 0o007 == 0): the gateway refuses it
// otherwise, and warns if its group may read it.
//
// Errors name the file and the line, never the line's text, which
// holds a secret.

// maxAccessKeyLen bounds an access key (AWS's are 16 to 128
// characters).
const maxAccessKeyLen = 128

// maxCredentialsFile bounds the size of a credentials file.
const maxCredentialsFile = 1 << 20

// readCredentialsFile reads and parses the credentials file at path. It
// returns the credentials in the order of the file and, if the file's
// group may read it, a warning to log.
func readCredentialsFile(path string) (creds []sigv4.Credential, warning string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("credentials file %s: %s", path, reason(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("credentials file %s: %s", path, reason(err))
	}
	if !st.Mode().IsRegular() {
		return nil, "", fmt.Errorf("credentials file %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o007 != 0 {
		return nil, "", fmt.Errorf("credentials file %s: others may access it (mode %04o): it holds secret keys; chmod 600 it", path, perm)
	} else if perm&0o070 != 0 {
		warning = fmt.Sprintf("credentials file %s: its group may access it (mode %04o); chmod 600 it unless that is meant", path, perm)
	}
	if st.Size() > maxCredentialsFile {
		return nil, "", fmt.Errorf("credentials file %s: larger than %d bytes", path, maxCredentialsFile)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, "", fmt.Errorf("credentials file %s: %s", path, reason(err))
	}
	creds, err = parseCredentials(path, buf.Bytes())
	return creds, warning, err
}

// parseCredentials parses the text of a credentials file, returning
// the credentials in its order; name is only for errors.
func parseCredentials(name string, text []byte) ([]sigv4.Credential, error) {
	var creds []sigv4.Credential
	lineOf := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxCredentialsFile)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("credentials file %s line %d: want ACCESS_KEY SECRET_KEY USER, got %d field%s", name, n, len(fields), plural(len(fields)))
		}
		c := sigv4.Credential{AccessKey: fields[0], SecretKey: fields[1], User: fields[2]}
		if err := checkCredential(c); err != nil {
			return nil, fmt.Errorf("credentials file %s line %d: %v", name, n, err)
		}
		if first, dup := lineOf[c.AccessKey]; dup {
			return nil, fmt.Errorf("credentials file %s line %d: access key %s is already on line %d", name, n, c.AccessKey, first)
		}
		lineOf[c.AccessKey] = n
		creds = append(creds, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("credentials file %s line %d: %v", name, n+1, err)
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("credentials file %s: no credentials in it", name)
	}
	return creds, nil
}

// checkCredential checks an access key, a secret and a user. Its
// errors show the access key and the user, never the secret.
func checkCredential(c sigv4.Credential) error {
	switch {
	case c.AccessKey == "":
		return fmt.Errorf("empty access key")
	case len(c.AccessKey) > maxAccessKeyLen:
		return fmt.Errorf("access key longer than %d characters", maxAccessKeyLen)
	case strings.ContainsFunc(c.AccessKey, func(r rune) bool { return r == '/' || r <= ' ' || r > '~' }):
		return fmt.Errorf("access key %q holds a character other than printable ASCII and not '/'", c.AccessKey)
	case c.SecretKey == "":
		return fmt.Errorf("empty secret key for access key %s", c.AccessKey)
	case strings.ContainsFunc(c.SecretKey, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return fmt.Errorf("the secret key of access key %s holds a blank or a control character", c.AccessKey)
	case c.User == "":
		return fmt.Errorf("empty user for access key %s", c.AccessKey)
	case strings.ContainsFunc(c.User, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' }):
		return fmt.Errorf("user %q of access key %s holds a blank, a control character or ':'", c.User, c.AccessKey)
	}
	return nil
}

// staticCredentials indexes creds by access key.
func staticCredentials(creds []sigv4.Credential) sigv4.StaticCredentials {
	m := make(sigv4.StaticCredentials, len(creds))
	for _, c := range creds {
		m[c.AccessKey] = c
	}
	return m
}

// writeCredentialsFile writes creds to path in the format above, mode
// 0600, through a temporary renamed into place.
func writeCredentialsFile(path string, creds ...sigv4.Credential) error {
	var b strings.Builder
	b.WriteString("# cairn s3 credentials: ACCESS_KEY SECRET_KEY USER, one a line (docs/S3.md)\n")
	for _, c := range creds {
		fmt.Fprintf(&b, "%s %s %s\n", c.AccessKey, c.SecretKey, c.User)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// secretValue is a pflag.Value holding a secret: its String, which
// --help and --print-config show, never reveals it.
type secretValue string

// hiddenSecret is what a secretValue that is set prints as.
const hiddenSecret = "<hidden>"

func (v *secretValue) String() string {
	if *v == "" {
		return ""
	}
	return hiddenSecret
}
func (v *secretValue) Type() string { return "secret" }
func (v *secretValue) Set(s string) error {
	*v = secretValue(s)
	return nil
}
