// A minimal Socket.IO chat server for the same-run comparison (bench/peers/run.sh).
//
// What it does, honestly:
// - WebSocket transport only, default namespace; a client joins with auth {user: NAME} and is put
//   in the room NAME (no passwords, no tokens: there is no account system).
// - `chat` {to, id, text}: the message is appended as one JSON line to LOG_FILE; every message
//   that arrived while a write was in progress shares the next write + fsync (group commit, like
//   Confab's store). Only after the fsync does the sender get `ack` (the id) and the recipient's
//   room get `chat` {from, id, text}.
// - No sequence numbers, no history or sync API, no idempotency, no membership checks: it does
//   less work per message than Confab, which persists into SQLite with indexes and ordering.
// - Heartbeats: pingInterval is raised to 10 minutes so benchmark connections that only read are
//   not dropped for missing pongs; everything else is the library's defaults.
"use strict";
const fs = require("fs");
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 0);
const logFile = process.env.LOG_FILE || "socketio-messages.log";
const fd = fs.openSync(logFile, "a");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: 600000,
  pingTimeout: 600000,
  maxHttpBufferSize: 65536,
});

let pending = [];
let flushing = false;

function flush() {
  if (flushing || pending.length === 0) return;
  flushing = true;
  const batch = pending;
  pending = [];
  const buf = Buffer.from(batch.map((b) => b.line).join(""));
  fs.write(fd, buf, 0, buf.length, null, (err) => {
    if (err) throw err;
    fs.fsync(fd, (err) => {
      if (err) throw err;
      for (const b of batch) {
        b.socket.emit("ack", b.msg.id);
        io.to(b.msg.to).emit("chat", { from: b.user, id: b.msg.id, text: b.msg.text });
      }
      flushing = false;
      if (pending.length) setImmediate(flush);
    });
  });
}

io.on("connection", (socket) => {
  const user = socket.handshake.auth && socket.handshake.auth.user;
  if (typeof user !== "string" || user.length === 0) {
    socket.disconnect(true);
    return;
  }
  socket.join(user);
  socket.on("chat", (msg) => {
    if (!msg || typeof msg.to !== "string" || typeof msg.text !== "string") {
      socket.emit("error", "invalid message");
      return;
    }
    const line = JSON.stringify({ from: user, to: msg.to, id: msg.id, text: msg.text, ts: Date.now() }) + "\n";
    pending.push({ socket, user, msg, line });
    setImmediate(flush);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`socketio listening on http://127.0.0.1:${httpServer.address().port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    fs.fsyncSync(fd);
    process.exit(0);
  });
}
