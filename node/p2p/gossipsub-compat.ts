// Adapter that lets @chainsafe/libp2p-gossipsub@14 (built for libp2p 2.x) run inside libp2p 3.x.
//
// libp2p 3 changed three things gossipsub 14 depends on:
// - streams are event-based MessageStreams, not `{ source, sink }` duplexes;
// - stream handlers are called as `(stream, connection)`, not `({ stream, connection })`;
// - multiaddr 13 removed `Multiaddr.tuples()` (gossipsub reads it for IP-colocation scoring).
// We hand gossipsub a view of the libp2p components in which connections, streams and
// multiaddrs have the old shapes. Everything else (peer store, keys, logger) passes through.
// When the project can move to @libp2p/gossipsub (the libp2p-3 port), delete this file.
import { gossipsub, type GossipsubOpts, type GossipSub } from '@chainsafe/libp2p-gossipsub';
import { messageStreamToDuplex } from '@libp2p/utils';
import type { Connection, Stream, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

type AnyFn = (...args: any[]) => any;

/** A libp2p-2 style duplex stream backed by a libp2p-3 MessageStream. */
export function legacyStream(stream: Stream): unknown {
  const duplex = messageStreamToDuplex(stream);
  return {
    source: duplex.source,
    sink: duplex.sink,
    get protocol() { return stream.protocol; },
    get id() { return stream.id; },
    get direction() { return stream.direction; },
    get status() { return stream.status; },
    close: (options?: { signal?: AbortSignal }) => stream.close(options),
    abort: (err: Error) => stream.abort(err),
  };
}

/** Multiaddr with a `tuples()` shim: [code, raw IP bytes] for ip4, enough for gossipsub's IP scoring. */
export function legacyMultiaddr(addr: Multiaddr): unknown {
  return new Proxy(addr, {
    get(target, prop, receiver) {
      if (prop === 'tuples') {
        return () => target.getComponents().map((c) => {
          if (c.code === 4 && c.value) return [4, Uint8Array.from(c.value.split('.').map(Number))];
          return [c.code, c.bytes];
        }).filter((t) => t[0] !== 41); // ip6 omitted: gossipsub then skips IP scoring for that peer
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as AnyFn).bind(target) : v;
    },
  });
}

const wrappedConnections = new WeakMap<Connection, unknown>();

export function legacyConnection(conn: Connection): any {
  const known = wrappedConnections.get(conn);
  if (known) return known;
  const wrapped = new Proxy(conn, {
    get(target, prop, receiver) {
      if (prop === 'remoteAddr') return legacyMultiaddr(target.remoteAddr);
      if (prop === 'newStream') {
        return async (protocols: string | string[], options?: object) => legacyStream(await target.newStream(protocols, options));
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as AnyFn).bind(target) : v;
    },
  });
  wrappedConnections.set(conn, wrapped);
  return wrapped;
}

interface LegacyTopology {
  onConnect?(peerId: PeerId, conn: unknown): void;
  onDisconnect?(peerId: PeerId): void;
  [k: string]: unknown;
}

function legacyComponents(components: any): any {
  const registrar = components.registrar;
  const topologies = new Map<string, LegacyTopology[]>();
  const legacyRegistrar = {
    handle: (protocol: string, handler: AnyFn, options?: object) =>
      registrar.handle(protocol, (stream: Stream, connection: Connection) =>
        handler({ stream: legacyStream(stream), connection: legacyConnection(connection) }), options),
    unhandle: (protocol: string) => registrar.unhandle(protocol),
    register: async (protocol: string, topology: LegacyTopology) => {
      topologies.set(protocol, [...(topologies.get(protocol) ?? []), topology]);
      return registrar.register(protocol, {
        ...topology,
        onConnect: (peerId: PeerId, conn: Connection) => topology.onConnect?.(peerId, legacyConnection(conn)),
        onDisconnect: (peerId: PeerId) => topology.onDisconnect?.(peerId),
      });
    },
    unregister: (id: string) => registrar.unregister(id),
    getTopologies: (protocol: string) => topologies.get(protocol) ?? [],
    getProtocols: () => registrar.getProtocols(),
    getHandler: (protocol: string) => registrar.getHandler(protocol),
  };
  const connectionManager = components.connectionManager;
  const legacyConnectionManager = new Proxy(connectionManager, {
    get(target, prop, receiver) {
      if (prop === 'openConnection') {
        return async (peer: unknown, options?: object) => legacyConnection(await target.openConnection(peer, options));
      }
      if (prop === 'getConnections') {
        return (peer?: PeerId) => target.getConnections(peer).map((c: Connection) => legacyConnection(c));
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as AnyFn).bind(target) : v;
    },
  });
  return new Proxy(components, {
    get(target, prop, receiver) {
      if (prop === 'registrar') return legacyRegistrar;
      if (prop === 'connectionManager') return legacyConnectionManager;
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** Drop-in for `gossipsub(init)` in a libp2p 3 `services` map. */
export function compatGossipsub(init: Partial<GossipsubOpts>): (components: any) => GossipSub {
  const factory = gossipsub(init);
  return (components: any) => factory(legacyComponents(components)) as unknown as GossipSub;
}
