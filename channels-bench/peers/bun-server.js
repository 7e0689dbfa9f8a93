// The Bun (uWebSockets) peer of the benchmark suite: the same two protocols as `channels-floor` and the
// examples, on Bun's built-in server. Run by scripts/bench.sh, which installs Bun from npm
// (@oven/bun-linux-x64) into target/bench/peers: it is never a dependency of the crates or of CI.
//
//   bun channels-bench/peers/bun-server.js --protocol echo|chat --bind 127.0.0.1:8000
//
// echo: every text or binary frame comes back on the same connection, any path.
// chat: every connection joins the topic "chat"; a text T from any member reaches every member, the
//       sender included, as "[user] T" (ws.subscribe + ws.publish with publishToSelf).
// Limits as ours: 1 MiB messages, no compression.
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const protocol = option("--protocol", "echo");
const bind = option("--bind", "127.0.0.1:8000");
const colon = bind.lastIndexOf(":");
const hostname = bind.slice(0, colon);
const port = Number(bind.slice(colon + 1));
if (!["echo", "chat"].includes(protocol) || !Number.isInteger(port)) {
  console.error("usage: bun-server.js --protocol echo|chat --bind HOST:PORT");
  process.exit(2);
}

const server = Bun.serve({
  hostname,
  port,
  fetch(req, server) {
    if (server.upgrade(req)) return undefined;
    return new Response("WebSocket only", { status: 426 });
  },
  websocket: {
    maxPayloadLength: 1 << 20,
    perMessageDeflate: false,
    publishToSelf: true,
    open(ws) {
      if (protocol === "chat") ws.subscribe("chat");
    },
    message(ws, message) {
      if (protocol === "echo") {
        ws.send(message);
      } else if (typeof message === "string") {
        ws.publish("chat", "[user] " + message);
      }
    },
  },
});
console.log(`Listening on http://${server.hostname}:${server.port}/`);
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.stop(true);
    process.exit(0);
  });
}
