CREATE TYPE "Mood" AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE "User" (
  id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, big bigint NOT NULL DEFAULT 0,
  score double precision NOT NULL DEFAULT 0, balance numeric(12,2) NOT NULL DEFAULT 0,
  active boolean NOT NULL DEFAULT true, born date, "createdAt" timestamptz(3) NOT NULL DEFAULT now(),
  seen timestamp(3), meta jsonb, avatar bytea, mood "Mood" NOT NULL DEFAULT 'ok',
  moods "Mood"[], tags text[]);
CREATE TABLE "Post" (id serial PRIMARY KEY, title text NOT NULL, "authorId" int NOT NULL REFERENCES "User"(id));
