'use strict'
// A database whose `orders` table has a row-level-security policy reading the `app.user_id`
// setting (orders 1 and 2 belong to '42', order 3 to '7'), and pools connected as a role the
// policy applies to (a superuser or the table's owner would bypass it):
//   const rls = ordersWithPolicy('request_scope')
//   beforeAll(rls.create); afterEach(rls.endPools); afterAll(rls.drop)
//   const pool = rls.policyPool()   // one connection unless told otherwise

const { harness } = require('../harness')
const { poolsOnFreshDatabase } = require('./common')

function ordersWithPolicy (prefix) {
  const role = `pgw_${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const db = poolsOnFreshDatabase(prefix, {
    setupSql: `
      CREATE TABLE orders (id int PRIMARY KEY, owner text NOT NULL);
      INSERT INTO orders VALUES (1, '42'), (2, '42'), (3, '7');
      ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_orders ON orders USING (owner = current_setting('app.user_id', true));`
  })
  return {
    db,
    makePool: db.makePool,
    endPools: db.endPools,
    async create () {
      await db.create()
      await harness().admin(`CREATE ROLE ${role} LOGIN`)
      await harness().adminScript(`GRANT SELECT, INSERT ON orders TO ${role}`, { database: db.url })
    },
    drop: () => harness().admin(`DROP OWNED BY ${role} CASCADE; DROP ROLE IF EXISTS ${role}`).catch(() => {}),
    /** A pool (one connection unless `opts` says otherwise) connected as the policy's role. */
    policyPool (opts = {}) {
      const url = new URL(db.url)
      url.username = role
      url.password = ''
      return db.makePool({ connectionLimit: 1, ...opts }, url.toString())
    }
  }
}

module.exports = { ordersWithPolicy }
