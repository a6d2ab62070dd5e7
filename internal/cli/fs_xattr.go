package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/client"
)

// Extended attributes: setfattr and getfattr, as HDFS's
// 'hdfs dfs -setfattr' and '-getfattr'.

// decodeXAttrValue reads a value as HDFS's XAttrCodec does: "0x..." is
// hex, "0s..." base64, a value in double quotes is the text between
// them, anything else is text.
func decodeXAttrValue(v string) ([]byte, error) {
	switch {
	case len(v) >= 2 && (v[:2] == "0x" || v[:2] == "0X"):
		b, err := hex.DecodeString(v[2:])
		if err != nil {
			return nil, fmt.Errorf("value %q is not valid hex after 0x", v)
		}
		return b, nil
	case len(v) >= 2 && (v[:2] == "0s" || v[:2] == "0S"):
		b, err := base64.StdEncoding.DecodeString(v[2:])
		if err != nil {
			return nil, fmt.Errorf("value %q is not valid base64 after 0s", v)
		}
		return b, nil
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		return []byte(v[1 : len(v)-1]), nil
	}
	return []byte(v), nil
}

// encodeXAttrValue writes a value in one of HDFS's encodings: text (in
// double quotes), hex (0x...) or base64 (0s...).
func encodeXAttrValue(v []byte, enc string) string {
	switch enc {
	case "hex":
		return "0x" + hex.EncodeToString(v)
	case "base64":
		return "0s" + base64.StdEncoding.EncodeToString(v)
	}
	return strconv.Quote(string(v))
}

func newSetfattrCmd(r *remote) *cobra.Command {
	var name, value, remove string
	cmd := &cobra.Command{
		Use:   "setfattr {-n NAME [-v VALUE] | -x NAME} PATH",
		Short: "Set or remove an extended attribute",
		Long: `Set (-n NAME -v VALUE) or remove (-x NAME) an extended attribute of a file or
directory, as 'hdfs dfs -setfattr'. Names are "user.NAME" or "trusted.NAME".
A VALUE in double quotes is the text inside them, "0x..." is hex, "0s..."
base64, anything else is text; no -v sets an empty value.`,
		Args: exactArgs(1, "one PATH"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "setfattr"
			p := args[0]
			if err := checkPath(op, p); err != nil {
				return err
			}
			if (name == "") == (remove == "") {
				return usageError("give exactly one of -n NAME or -x NAME")
			}
			if remove != "" && value != "" {
				return usageError("-v VALUE goes with -n, not with -x")
			}
			v, err := decodeXAttrValue(value)
			if err != nil {
				return failf(op, p, cairn.Invalid, "%v", err)
			}
			return r.withClient(ctx, op, p, func(c *client.Client) error {
				if remove != "" {
					return fail(op, p, c.RemoveXAttr(ctx, p, remove))
				}
				return fail(op, p, c.SetXAttr(ctx, p, name, v, 0))
			})
		}),
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "the attribute to set")
	cmd.Flags().StringVarP(&value, "value", "v", "", "its value (text, \"text\", 0xHEX or 0sBASE64)")
	cmd.Flags().StringVarP(&remove, "remove", "x", "", "the attribute to remove")
	return cmd
}

// xattrJSON is one path of 'cairn fs getfattr --json': the values in
// the encoding asked (-e), text without the quotes.
type xattrJSON struct {
	Path   string            `json:"path"`
	XAttrs map[string]string `json:"xattrs"`
}

func newGetfattrCmd(r *remote) *cobra.Command {
	var name, enc string
	var dump, recursive, asJSON bool
	cmd := &cobra.Command{
		Use:   "getfattr [-R] {-n NAME | -d} [-e ENCODING] [--json] PATH",
		Short: "Show extended attributes",
		Long: `Show one extended attribute (-n NAME) or all of them (-d) of a file or
directory, or of everything below it with -R, as 'hdfs dfs -getfattr':

  # file: /path
  user.name="value"

-e chooses the encoding of values: text (default, in double quotes), hex
(0x...) or base64 (0s...). --json prints a list of {path, xattrs}, xattrs
mapping each name to its value in that encoding (text without quotes).`,
		Args: exactArgs(1, "one PATH"),
		RunE: runE(func(ctx context.Context, args []string) error {
			const op = "getfattr"
			p := args[0]
			if err := checkPath(op, p); err != nil {
				return err
			}
			if (name == "") == !dump {
				return usageError("give exactly one of -n NAME or -d")
			}
			switch enc {
			case "text", "hex", "base64":
			default:
				return usageError("-e %q: the encoding is text, hex or base64", enc)
			}
			return r.withClient(ctx, op, p, func(c *client.Client) error {
				var out []xattrJSON
				show := func(path string, attrs map[string][]byte) {
					names := slices.Sorted(func(yield func(string) bool) {
						for n := range attrs {
							if !yield(n) {
								return
							}
						}
					})
					j := xattrJSON{Path: path, XAttrs: map[string]string{}}
					var b strings.Builder
					fmt.Fprintf(&b, "# file: %s\n", path)
					for _, n := range names {
						v := encodeXAttrValue(attrs[n], enc)
						fmt.Fprintf(&b, "%s=%s\n", n, v)
						if enc == "text" {
							v = string(attrs[n])
						}
						j.XAttrs[n] = v
					}
					if asJSON {
						out = append(out, j)
					} else {
						b.WriteByte('\n')
						fmt.Fprint(r.e.stdout, b.String())
					}
				}
				get := func(path string) error {
					var attrs map[string][]byte
					var err error
					if dump {
						attrs, err = c.GetXAttrs(ctx, path)
					} else {
						attrs, err = c.GetXAttrs(ctx, path, name)
					}
					if err != nil {
						return fail(op, path, err)
					}
					show(path, attrs)
					return nil
				}
				if err := get(p); err != nil {
					return err
				}
				if recursive {
					if err := walkTree(ctx, c, p, get); err != nil {
						return err
					}
				}
				if asJSON {
					if out == nil {
						out = []xattrJSON{}
					}
					return writeJSON(r.e.stdout, out)
				}
				return nil
			})
		}),
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "the attribute to show")
	cmd.Flags().BoolVarP(&dump, "dump", "d", false, "show all attributes")
	cmd.Flags().StringVarP(&enc, "encoding", "e", "text", "encoding of values: text, hex or base64")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "also every file and directory below PATH")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// walkTree calls fn for every path below dir (not dir itself), parents
// before children, in name order; a file dir has nothing below it.
func walkTree(ctx context.Context, c *client.Client, dir string, fn func(string) error) error {
	for fi, err := range c.List(ctx, dir) {
		if err != nil {
			if cairn.KindOf(err) == cairn.NotDir {
				return nil
			}
			return fail("getfattr", dir, err)
		}
		if err := fn(fi.Path); err != nil {
			return err
		}
		if fi.IsDir {
			if err := walkTree(ctx, c, fi.Path, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
