// Package config layers the settings of a server command over its
// flags: a flag given on the command line beats the environment
// variable CAIRN_<FLAG>, which beats the key <flag> of a YAML config
// file, which beats the flag's default. It works on any pflag.FlagSet,
// so every server command (namenode, datanode, dev) gets the same
// behaviour without a line per flag.
//
// A config file is a YAML mapping whose keys are the long flag names
// (heartbeat-interval; heartbeat_interval is accepted too) and whose
// values are what would follow the flag on the command line: 3s, 128MiB,
// 0.999, "127.0.0.1:8020". A list is joined with commas (for --dir).
// JSON, being YAML, works too. An unknown key, a nested mapping or a
// value the flag refuses is an error that names the key.
//
// The environment variable of a flag is CAIRN_ followed by its name in
// upper case with '-' as '_': --heartbeat-interval is
// CAIRN_HEARTBEAT_INTERVAL.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment variable read.
const EnvPrefix = "CAIRN_"

// EnvName returns the environment variable of the flag named name:
// CAIRN_HEARTBEAT_INTERVAL for heartbeat-interval.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// File is the content of a config file: flag name to value, as typed
// on a command line.
type File struct {
	Path   string
	Values map[string]string
}

// ReadFile reads and parses the YAML config file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, unwrapPathError(err))
	}
	return Parse(path, b)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse parses the YAML text of a config file; path is only for error
// messages.
func Parse(path string, text []byte) (*File, error) {
	f := &File{Path: path, Values: make(map[string]string)}
	if len(bytes.TrimSpace(text)) == 0 {
		return f, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: want a mapping of flag names to values", path)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := strings.ReplaceAll(k.Value, "_", "-")
		if _, dup := f.Values[key]; dup {
			return nil, fmt.Errorf("config file %s: line %d: key %q given twice", path, k.Line, k.Value)
		}
		val, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("config file %s: line %d: key %q: %v", path, v.Line, k.Value, err)
		}
		f.Values[key] = val
	}
	return f, nil
}

// scalar returns the text of a value: a scalar as written, a list of
// scalars joined with commas, null as "".
func scalar(v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return "", nil
		}
		return v.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return "", errors.New("want a list of plain values")
			}
			parts = append(parts, e.Value)
		}
		return strings.Join(parts, ","), nil
	case yaml.AliasNode:
		return scalar(v.Alias)
	}
	return "", errors.New("want a value, not a mapping")
}

// Apply sets every flag of fs that was not given on the command line
// from its environment variable (getenv) or, failing that, from file
// (which may be nil). Flags named in skip (such as config itself and
// help) are left alone and are unknown keys in the file. It fails on
// the first key of the file that names no flag, and on any value a flag
// refuses, naming where the value came from.
func Apply(fs *pflag.FlagSet, file *File, getenv func(string) string, skip ...string) error {
	skipped := func(name string) bool {
		for _, s := range skip {
			if s == name {
				return true
			}
		}
		return false
	}
	if file != nil {
		// Report unknown keys in a stable order: the file's.
		for _, key := range sortedKeys(file.Values) {
			if fs.Lookup(key) == nil || skipped(key) {
				return fmt.Errorf("config file %s: unknown key %q", file.Path, key)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || skipped(f.Name) {
			return
		}
		if env := EnvName(f.Name); getenv != nil {
			if v, ok := lookup(getenv, env); ok {
				if serr := fs.Set(f.Name, v); serr != nil {
					err = fmt.Errorf("environment %s: invalid value %q: %v", env, v, serr)
				}
				return
			}
		}
		if file != nil {
			if v, ok := file.Values[f.Name]; ok {
				if serr := fs.Set(f.Name, v); serr != nil {
					err = fmt.Errorf("config file %s: key %q: invalid value %q: %v", file.Path, f.Name, v, serr)
				}
			}
		}
	})
	return err
}

// lookup reads an environment variable; an empty value counts as unset.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// Print writes the effective value of every flag of fs but those in
// skip, as a YAML config file that gives the same configuration.
func Print(w io.Writer, fs *pflag.FlagSet, skip ...string) error {
	var b strings.Builder
	fs.VisitAll(func(f *pflag.Flag) {
		for _, s := range skip {
			if s == f.Name {
				return
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", f.Name, yamlValue(f))
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// yamlValue formats a flag's value as a YAML scalar that reads back as
// the same text: bools and numbers bare, strings quoted when YAML would
// otherwise read them as something else.
func yamlValue(f *pflag.Flag) string {
	v := f.Value.String()
	switch f.Value.Type() {
	case "bool", "int", "int64", "uint64", "float64":
		return v
	}
	if v == "" {
		return `""`
	}
	var probe any
	if err := yaml.Unmarshal([]byte("v: "+v), &probe); err == nil {
		if m, ok := probe.(map[string]any); ok {
			if s, ok := m["v"].(string); ok && s == v {
				return v
			}
		}
	}
	return strconv.Quote(v)
}
