/**
 * Loads TypeORM as the runner starts: imported by the entry point before
 * any module that imports TypeORM, so that all of them get the bundle.
 */
import { type TypeormSource, useTypeormBundle } from "./typeormBundle";

export const typeormSource: TypeormSource = useTypeormBundle();
