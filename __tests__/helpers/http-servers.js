'use strict'
// HTTP servers a test file started, closed after each test (open connections included, so a
// test that failed mid-request never holds up the next):
//   const servers = httpServers()
//   afterEach(() => servers.closeAll())
//   servers.add(app.listen(0, '127.0.0.1'))

function httpServers () {
  const open = []
  return {
    add (server) {
      open.push(server)
      return server
    },
    closeAll () {
      return Promise.all(open.splice(0).map((s) => new Promise((resolve) => {
        s.closeAllConnections()
        s.close(() => resolve())
      })))
    }
  }
}

module.exports = { httpServers }
