/**
 * Migrations 0007, 0014 and 0022: users, groups and permissions; custom roles and host
 * certificates; users and groups of an LDAP directory.
 */
import { randomUUID } from "node:crypto";
import type { Migration } from "kysely/migration";
import { ADMIN_USER_ID, SUPER_USER_ROLE_ID, SYSTEM_ID } from "./ids.js";
import type { AnyDb } from "./migration-db.js";

/**
 * Internal users and groups (the `internal` domain), group membership, and permissions: a role
 * given to a user or group on one object (or the whole system). Roles and their permits are
 * code (permissions/roles.ts), so only their ids are stored. admin@internal is a row with no
 * password hash (its password is the engine's configuration) and SuperUser on the system.
 */
export const usersPermissions: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("users")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("password_hash", "text")
      .addColumn("first_name", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("last_name", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("email", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("groups")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("group_members")
      .addColumn("group_id", "text", (c) => c.notNull().references("groups.id"))
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id"))
      .addPrimaryKeyConstraint("group_members_pk", ["group_id", "user_id"])
      .execute();
    await db.schema
      .createTable("permissions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("role_id", "text", (c) => c.notNull())
      // exactly one of user_id and group_id is set
      .addColumn("user_id", "text")
      .addColumn("group_id", "text")
      .addColumn("object_type", "text", (c) => c.notNull())
      .addColumn("object_id", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("permissions_user").on("permissions").column("user_id").execute();
    await db.schema.createIndex("permissions_object").on("permissions").columns(["object_type", "object_id"]).execute();
    const at = new Date().toISOString();
    await db.insertInto("users").values({ id: ADMIN_USER_ID, name: "admin", password_hash: null, created_at: at }).execute();
    await db
      .insertInto("permissions")
      .values({ id: randomUUID(), role_id: SUPER_USER_ROLE_ID, user_id: ADMIN_USER_ID, group_id: null, object_type: "system", object_id: SYSTEM_ID, created_at: at })
      .execute();
  },
};

/**
 * Custom roles (issue 12): the predefined ones stay code (roles.ts); these are the administrators'
 * own. And the node certificates the CA signed, by serial, so that a removed host's certificate
 * is refused from then on (revocation).
 */
export const customRoles: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("host_certificates")
      .addColumn("serial", "text", (c) => c.primaryKey())
      .addColumn("host_id", "text", (c) => c.notNull())
      .addColumn("issued_at", "text", (c) => c.notNull())
      .addColumn("revoked_at", "text")
      .execute();
    await db.schema.createIndex("host_certificates_host").on("host_certificates").column("host_id").execute();
    await db.schema
      .createTable("roles")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("administrative", "integer", (c) => c.notNull())
      // the role's action groups as a JSON array of their names
      .addColumn("permits", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
  },
};

/**
 * Users and groups of an LDAP directory (users/directory.ts) beside the internal ones: each row
 * says its domain and, for a directory's, the entry's entryUUID (stable across renames). Their
 * `name` is the whole user name (alice@corp), so the unique names of 0007 still hold.
 */
export const directoryUsers: Migration = {
  async up(db: AnyDb) {
    for (const t of ["users", "groups"]) {
      await db.schema
        .alterTable(t)
        .addColumn("domain", "text", (c) => c.notNull().defaultTo("internal"))
        .execute();
      await db.schema.alterTable(t).addColumn("external_id", "text").execute();
    }
  },
};
