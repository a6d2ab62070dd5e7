// Package cli implements the cairn command: the servers (namenode,
// datanode, dev, s3), the client commands (fs ...), the administration
// commands (admin ...) and version. cmd/cairn only wires it to the
// process: Run takes the arguments, standard streams and a context that
// ends on SIGINT or SIGTERM, and returns the exit code.
//
// # Conventions
//
// Exit codes: 0 success; 1 the command failed (and 'admin fsck' found
// the file system CORRUPT); 2 a usage error (bad flag, wrong number of
// arguments, bad value). Every failure prints exactly one line to
// stderr, "cairn: <op> <path>: <reason>", where op is the command's verb
// (put, ls, ...) and path the argument concerned; usage errors print
// "cairn: <command>: <problem> (see 'cairn <command> --help')". Nothing
// panics out of Run.
//
// Paths in the cluster are passed as given: absolute and clean, as
// cairn.ValidatePath demands ("rel", "/a/../b", "//x" and "/a/" are
// refused with "invalid path"), never rewritten.
//
// The NameNode address of the fs and admin commands is --namenode, else
// $CAIRN_NAMENODE, else 127.0.0.1:8020: one host:port, or the addresses
// of the members of a NameNode group separated by commas, which
// client.Dial takes as they are (the client follows the group's
// leader). The datanode's --namenode takes a list the same way.
//
// The server commands (namenode, datanode, dev, s3) read every flag not
// given on the command line from $CAIRN_<FLAG>, else from the YAML file
// of --config (or $CAIRN_CONFIG), else keep its default (config.go,
// package internal/config); --print-config prints the result.
// --log-format json makes their logs JSON.
//
// Sizes (--block-size) are whole numbers with an optional unit: 4096,
// 64KiB, 32MiB, 1GiB (binary), the short forms k, m, g, t (binary, as
// HDFS), or KB, MB, GB, TB (decimal).
//
// # Choices
//
//   - 'cairn namenode' and 'cairn datanode' require --dir; 'cairn dev'
//     defaults to ./cairn-dev, with namenode/ and datanode-i/ inside.
//   - 'cairn dev' puts DataNode i on 127.0.0.1:9866+10i (data) and
//     127.0.0.1:9864+10i (web); --datanode-port 0 uses free ports.
//   - The NameNode's safe-mode extension defaults to 0 (HDFS: 30s): it
//     leaves safe mode as soon as enough blocks are reported, and a new,
//     empty cluster takes writes at once.
//   - 'fs put' writes "<dir>/.<name>._COPYING_.<8 hex digits>" and
//     renames it onto the target when complete (without overwrite unless
//     -f). A failed or interrupted put removes its temporary; a put killed
//     with SIGKILL leaves it, and the NameNode closes it when its lease
//     hard limit passes.
//   - 'fs get' writes a temporary file beside the target and renames it;
//     it replaces an existing local file, as cp does.
//   - 'fs stat --json' gives mode as four octal digits ("0644") and
//     modTime in RFC 3339 (UTC).
//   - 'fs rm' removes files and empty directories; -r is needed for a
//     non-empty directory.
//   - 'fs concat TARGET SRC...' prints nothing on success; the NameNode
//     checks the files (existing, closed, distinct), not the CLI.
//   - Progress bars appear on stderr only when it is a terminal.
//   - 's3' takes its keys from --credentials FILE (ACCESS_KEY SECRET_KEY
//     USER a line, '#' comment lines; refused when others may access
//     it; s3creds.go), or one key from --access-key/--secret-key, else
//     $CAIRN_S3_ACCESS_KEY/$CAIRN_S3_SECRET_KEY, acting as --user or the
//     OS user. Secrets are never printed: --print-config shows
//     "<hidden>".
//   - 'dev' runs an S3 gateway on 127.0.0.1:9000 (--s3-addr; "" for
//     none) with a random key made once and kept in DIR/s3-credentials;
//     a port in use is an error, as for its other ports, since the
//     printed aws line names it.
package cli
