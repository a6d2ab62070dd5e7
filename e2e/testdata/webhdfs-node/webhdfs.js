// npm's webhdfs client against cairn's WebHDFS, run by
// e2e/webhdfs_test.go: node webhdfs.js HOST PORT USER. It writes, reads,
// lists, mkdirs, renames and deletes, exits non-zero on the first
// difference and prints a JSON summary on success.
'use strict';

const WebHDFS = require('webhdfs');

const [host, port, user] = process.argv.slice(2);
const hdfs = WebHDFS.createClient({ host, port: Number(port), user, path: '/webhdfs/v1' });

function fail(what) {
  console.error('FAIL: ' + what);
  process.exit(1);
}

function call(fn, ...args) {
  return new Promise((resolve, reject) => {
    fn.call(hdfs, ...args, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function main() {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;

  await call(hdfs.mkdir, '/node/dir');
  await call(hdfs.writeFile, '/node/dir/hello.txt', 'hello from node');
  await call(hdfs.writeFile, '/node/dir/big.bin', big);
  const hello = await call(hdfs.readFile, '/node/dir/hello.txt');
  if (hello.toString() !== 'hello from node') fail('readFile hello.txt = ' + hello);
  const back = await call(hdfs.readFile, '/node/dir/big.bin');
  if (!back.equals(big)) fail('readFile big.bin: ' + back.length + ' bytes differ from ' + big.length);

  await call(hdfs.appendFile, '/node/dir/hello.txt', ', appended');
  const appended = await call(hdfs.readFile, '/node/dir/hello.txt');
  if (appended.toString() !== 'hello from node, appended') fail('after appendFile: ' + appended);

  const list = await call(hdfs.readdir, '/node/dir');
  const names = list.map((s) => s.pathSuffix).sort();
  if (JSON.stringify(names) !== JSON.stringify(['big.bin', 'hello.txt'])) fail('readdir = ' + JSON.stringify(names));
  const st = await call(hdfs.stat, '/node/dir/big.bin');
  if (st.type !== 'FILE' || st.length !== big.length || st.owner !== user) fail('stat = ' + JSON.stringify(st));

  await call(hdfs.rename, '/node/dir/hello.txt', '/node/hello.txt');
  const moved = await call(hdfs.readFile, '/node/hello.txt');
  if (moved.toString() !== 'hello from node, appended') fail('after rename: ' + moved);
  await call(hdfs.chmod, '/node/hello.txt', '0600');
  const st2 = await call(hdfs.stat, '/node/hello.txt');
  if (st2.permission !== '600') fail('after chmod: ' + JSON.stringify(st2));

  await call(hdfs.unlink, '/node/dir/big.bin');
  let missing = null;
  try {
    await call(hdfs.stat, '/node/dir/big.bin');
  } catch (err) {
    missing = err;
  }
  if (!missing || !/does not exist/.test(missing.message)) fail('stat after unlink: ' + missing);
  await call(hdfs.unlink, '/node/dir', true);

  const version = require('webhdfs/package.json').version;
  console.log(JSON.stringify({ webhdfs: version, node: process.version }));
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
