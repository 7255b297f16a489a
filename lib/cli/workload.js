'use strict'
// What the load test runs: sample tables with realistic data (a small shop: customers,
// products, orders and their items) and the statements of each query type.

const SCHEMA = 'pgwarden_load_test'

/** Creates and fills the sample tables (about 1-2 s); idempotent. */
const SEED = `
DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE;
CREATE SCHEMA ${SCHEMA};
SET search_path = ${SCHEMA};
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, city text NOT NULL,
  created_at timestamptz NOT NULL);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, category text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
  status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_items (order_id bigint NOT NULL REFERENCES orders, product_id int NOT NULL REFERENCES products,
  qty int NOT NULL, price numeric(10,2) NOT NULL);
INSERT INTO customers
  SELECT i, 'Customer ' || i, 'customer' || i || '@example.com',
    (ARRAY['Berlin','Lisbon','Austin','Osaka','Lagos','Lima','Oslo','Pune'])[1 + i % 8],
    now() - (i % 1000) * interval '1 day'
  FROM generate_series(1, 10000) i;
INSERT INTO products
  SELECT i, 'Product ' || i, (ARRAY['books','games','tools','garden','music'])[1 + i % 5], 1 + (i * 37 % 20000) / 100.0
  FROM generate_series(1, 1000) i;
INSERT INTO orders (customer_id, status, created_at)
  SELECT 1 + (i * 7919) % 10000, (ARRAY['new','paid','shipped','delivered'])[1 + i % 4],
    now() - (i % 90) * interval '1 day' - (i % 86400) * interval '1 second'
  FROM generate_series(1, 50000) i;
INSERT INTO order_items
  SELECT o.id, 1 + (o.id * 31 + k) % 1000, 1 + k, p.price
  FROM orders o CROSS JOIN generate_series(0, 2) k JOIN products p ON p.id = 1 + (o.id * 31 + k) % 1000;
CREATE INDEX ON orders (customer_id);
CREATE INDEX ON order_items (order_id);
ANALYZE;
`

const DROP = `DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`

const rand = (n) => 1 + Math.floor(Math.random() * n)

/** The statements of the complex type: a join with an aggregate, an index lookup, a report over a week, a write. */
const COMPLEX = [
  () => [`SELECT c.city, count(DISTINCT o.id) AS orders, sum(oi.qty * oi.price) AS spent
    FROM ${SCHEMA}.customers c JOIN ${SCHEMA}.orders o ON o.customer_id = c.id
    JOIN ${SCHEMA}.order_items oi ON oi.order_id = o.id WHERE c.id = $1 GROUP BY c.city`, [rand(10000)]],
  () => [`SELECT id, customer_id, status, created_at FROM ${SCHEMA}.orders WHERE id = $1`, [rand(50000)]],
  () => [`SELECT p.category, sum(oi.qty) AS units FROM ${SCHEMA}.order_items oi
    JOIN ${SCHEMA}.products p ON p.id = oi.product_id WHERE oi.order_id BETWEEN $1 AND $1 + 200
    GROUP BY p.category ORDER BY units DESC`, [rand(49800)]],
  () => [`UPDATE ${SCHEMA}.orders SET status = $2 WHERE id = $1`, [rand(50000), ['paid', 'shipped'][rand(2) - 1]]]
]

const SIMPLE = () => ['SELECT 1', []]

/** A function giving the next `[sql, params]` for a query type. */
function statements (type) {
  const complex = () => COMPLEX[rand(COMPLEX.length) - 1]()
  if (type === 'simple') return SIMPLE
  if (type === 'complex') return complex
  return () => (Math.random() < 0.5 ? SIMPLE() : complex())
}

module.exports = { SEED, DROP, SCHEMA, statements }
