'use strict'
// A small TCP proxy (node:net) for network-fault tests: the pool connects to the proxy, the
// proxy to the server. Three modes:
//   forward   – bytes flow both ways (the default, and what heal() returns to)
//   blackhole – nothing flows in either direction, but every socket stays open (a network cut
//               that neither side can see); new connections are accepted and then ignored.
//               Bytes sent meanwhile stay in the kernel buffers and flow again on heal(),
//               as TCP retransmission would deliver them.
//   reset     – every socket is destroyed with a TCP RST; new connections are reset at once.
// Only 127.0.0.1. forget() is not a mode: it silently drops only the connections open at the time
// (a NAT or firewall that forgot them), while new connections are forwarded as usual.

const net = require('node:net')

/** Destroys a socket with a TCP RST (Node ≥ 18.3/16.17), or plainly where that is missing. */
function rst (socket) {
  if (socket.destroyed) return
  if (typeof socket.resetAndDestroy === 'function') {
    try {
      socket.resetAndDestroy()
      return
    } catch {}
  }
  socket.destroy()
}

class TcpProxy {
  /** @param {{ targetPort: number, targetHost?: string }} opts */
  constructor ({ targetPort, targetHost = '127.0.0.1' }) {
    this.targetPort = targetPort
    this.targetHost = targetHost
    this.mode = 'forward'
    this.port = null
    this.connections = 0 // accepted in total
    this.resets = 0 // sockets reset (accepted ones and refused ones)
    this._pairs = new Set()
    this._forgotten = new Set() // pairs forget() dropped: open, never forwarded again
    this._server = null
  }

  /** Listens on a free port of 127.0.0.1; resolves to it. */
  start () {
    return new Promise((resolve, reject) => {
      const server = net.createServer((client) => this._accept(client))
      server.on('error', reject)
      server.listen(0, '127.0.0.1', () => {
        this._server = server
        this.port = server.address().port
        resolve(this.port)
      })
    })
  }

  /** Connections open right now (both ends alive). */
  get active () {
    return this._pairs.size
  }

  _accept (client) {
    this.connections++
    client.on('error', () => {})
    if (this.mode === 'reset') {
      this.resets++
      rst(client)
      return
    }
    const pair = { client, upstream: null }
    this._pairs.add(pair)
    const drop = () => {
      if (!this._pairs.has(pair)) return
      this._pairs.delete(pair)
      if (!client.destroyed) client.destroy()
      if (pair.upstream && !pair.upstream.destroyed) pair.upstream.destroy()
    }
    pair.drop = drop
    client.on('close', drop)
    if (this.mode === 'blackhole') client.pause() // accepted, never answered until heal()
    else this._connectUpstream(pair)
  }

  _connectUpstream (pair) {
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort })
    pair.upstream = upstream
    upstream.on('error', () => {})
    upstream.on('close', pair.drop)
    // Manual forwarding (not pipe()) so pause()/resume() fully control the flow in both directions.
    pair.client.on('data', (d) => { if (!upstream.destroyed) upstream.write(d) })
    upstream.on('data', (d) => { if (!pair.client.destroyed) pair.client.write(d) })
    if (this.mode === 'forward') pair.client.resume()
    else {
      pair.client.pause()
      upstream.pause()
    }
  }

  /** Stops forwarding in both directions; sockets stay open; new connections hang. */
  blackhole () {
    this.mode = 'blackhole'
    for (const p of this._pairs) {
      p.client.pause()
      if (p.upstream) p.upstream.pause()
    }
  }

  /**
   * Silently drops every connection open now, as a NAT or firewall that forgot them: nothing
   * flows on them again in either direction (heal() does not bring them back), yet neither end
   * is closed or told, so bytes written to them are accepted and never answered. Connections
   * accepted afterwards are forwarded normally. Returns how many were dropped.
   */
  forget () {
    const dropped = [...this._pairs]
    for (const p of dropped) {
      this._pairs.delete(p)
      this._forgotten.add(p)
      p.client.pause()
      if (p.upstream) p.upstream.pause()
    }
    return dropped.length
  }

  /** Resets (RST) every connection, and every new one until heal(). */
  reset () {
    this.mode = 'reset'
    for (const p of [...this._pairs]) {
      this._pairs.delete(p)
      this.resets++
      rst(p.client)
      if (p.upstream) rst(p.upstream)
    }
  }

  /** Back to forwarding: paused sockets resume, connections accepted while blackholed connect. */
  heal () {
    this.mode = 'forward'
    for (const p of this._pairs) {
      if (!p.upstream) this._connectUpstream(p)
      else {
        p.client.resume()
        p.upstream.resume()
      }
    }
  }

  /** Stops listening and destroys every socket. */
  close () {
    for (const p of [...this._pairs]) p.drop()
    for (const p of this._forgotten) {
      p.client.destroy()
      if (p.upstream) p.upstream.destroy()
    }
    this._forgotten.clear()
    if (!this._server) return Promise.resolve()
    const server = this._server
    this._server = null
    return new Promise((resolve) => server.close(() => resolve()))
  }
}

module.exports = { TcpProxy }
