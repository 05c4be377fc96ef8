// Bytes on the wire per node: every TCP socket of an encrypted connection (noise, yamux and gossipsub
// framing included), counted by the socket itself. Live sockets are summed on demand; a closed
// socket's final counts are kept. Fed by the connection gater (host.ts), which libp2p hands every
// connection once it is encrypted.
import type { Socket } from 'node:net';

export interface Traffic {
  bytesSent: number;
  bytesReceived: number;
  /** Connections counted so far (open and closed). */
  connections: number;
}

export class TrafficMeter {
  private readonly live = new Set<Socket>();
  private closed = { sent: 0, received: 0 };
  private count = 0;

  /** Starts counting `conn` (a libp2p MultiaddrConnection) when it is backed by a TCP socket. */
  track(conn: unknown): void {
    const socket = (conn as { socket?: unknown } | null)?.socket as Socket | undefined;
    if (!socket || typeof socket.bytesWritten !== 'number' || this.live.has(socket)) return;
    this.live.add(socket);
    this.count++;
    socket.once('close', () => {
      if (!this.live.delete(socket)) return;
      this.closed.sent += socket.bytesWritten;
      this.closed.received += socket.bytesRead;
    });
  }

  totals(): Traffic {
    let sent = this.closed.sent;
    let received = this.closed.received;
    for (const s of this.live) {
      sent += s.bytesWritten;
      received += s.bytesRead;
    }
    return { bytesSent: sent, bytesReceived: received, connections: this.count };
  }
}
