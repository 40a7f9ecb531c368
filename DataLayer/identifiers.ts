import type { EntityManager, EntityTarget, ObjectLiteral } from "typeorm";

/**
 * tableOf gives an entity's quoted table path from TypeORM's metadata, so
 * that hand-written SQL never spells an identifier that the entity does not
 * define.
 */
export function tableOf<E extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<E>,
): string {
  const metadata = manager.connection.getMetadata(entity);
  return metadata.tablePath.split(".").map(quote).join(".");
}

/** columnOf gives the quoted column name of an entity's property. */
export function columnOf<E extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<E>,
  property: keyof E & string,
): string {
  const metadata = manager.connection.getMetadata(entity);
  const column = metadata.findColumnWithPropertyName(property);
  if (column === undefined) {
    throw new TypeError(
      `${metadata.name} has no column for property ${property}`,
    );
  }
  return quote(column.databaseName);
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
