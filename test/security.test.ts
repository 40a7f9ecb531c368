import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { CHECKOUT } from "./support/fixtures";

/**
 * A static check of how the product builds SQL and loads code. It parses
 * the sources (not the tests) with the TypeScript compiler and follows
 * what each `.query(...)` and each query-builder fragment is made of.
 */

const SQL_FOLDERS = ["DataLayer", "Batch.Client", "SimpleBatchRunner", "Demo"];
const LOADING_FOLDERS = ["SimpleBatchRunner", "Contracts"];

/** Calls whose first argument is SQL text. */
const SQL_METHODS = new Set([
  "query",
  "where",
  "andWhere",
  "orWhere",
  "having",
  "andHaving",
  "orHaving",
  "select",
  "addSelect",
  "groupBy",
  "addGroupBy",
  "orderBy",
  "addOrderBy",
]);

/** Functions, not methods, whose first argument is SQL text. */
const SQL_FUNCTIONS = new Set(["sendStatements"]);

/** Joins, whose third argument is an SQL condition. */
const JOIN_METHODS = new Set([
  "innerJoin",
  "leftJoin",
  "innerJoinAndSelect",
  "leftJoinAndSelect",
]);

/**
 * Functions whose result is a quoted identifier: tableOf and columnOf read
 * TypeORM's metadata and throw for a name the entity lacks; `column` is
 * the local shorthand for columnOf; escapeIdentifier is pg's quoting.
 */
const IDENTIFIER_HELPERS = new Set([
  "tableOf",
  "columnOf",
  "column",
  "escapeIdentifier",
]);

/**
 * Functions whose result is a quoted value: escapeLiteral is pg's quoting
 * of a literal; arrayConstant quotes an array through it, and refuses an
 * integer element that is not one.
 */
const LITERAL_HELPERS = new Set(["escapeLiteral", "arrayConstant"]);

/** Our own constant identifiers, imported where they are interpolated. */
const IDENTIFIER_CONSTANTS = new Set([
  "TASK_SCHEMA",
  "MIGRATIONS_TABLE",
  "PURCHASING_SCHEMA",
  "CHAOS_RESULT_TABLE",
]);

/**
 * Interpolations read and found safe, which the rules above cannot prove:
 * each is built only from constants, mostly the TableSpecs of
 * purchasingTables.ts.
 * An entry that no longer matches anything fails the test, so the list
 * cannot outlive the code it excuses.
 */
const REVIEWED: readonly { file: string; expression: string; why: string }[] = [
  {
    file: "DataLayer/enqueue.ts",
    expression: "columnList(manager)",
    why: "columnOf of three fixed properties, joined",
  },
  {
    file: "DataLayer/enqueue.ts",
    expression: "copyFrom(copy)",
    why: "a COPY naming tableOf and columnList; the rows travel as data",
  },
  {
    file: "DataLayer/claim.ts",
    expression: "nextRetryWait",
    why: "a subquery built over BatchJob with constant conditions",
  },
  {
    file: "DataLayer/readStatus.ts",
    expression: 'runnerSession(attempt("runnerId"))',
    why: "a column behind RUNNER_SESSION_PREFIX, a constant",
  },
  {
    file: "DataLayer/readStatus.ts",
    expression: 'runnerSession(beat("runnerId"))',
    why: "a column behind RUNNER_SESSION_PREFIX, a constant",
  },
  {
    file: "DataLayer/sample/purchasingTables.ts",
    expression: "createTableStatement(table)",
    why: "a CREATE TABLE from a TableSpec constant",
  },
  {
    file: "DataLayer/sample/purchasingTables.ts",
    expression: "sql",
    why: "the index statements of a TableSpec constant",
  },
  {
    file: "DataLayer/sample/purchasingTables.ts",
    expression: "table.path",
    why: "the path of a TableSpec constant",
  },
  {
    file: "DataLayer/sample/purchasingTables.ts",
    expression: "key.name",
    why: "a foreign key name of a TableSpec constant",
  },
  {
    file: "DataLayer/sample/purchasingTables.ts",
    expression: "key.sql",
    why: "a foreign key clause of a TableSpec constant",
  },
  {
    file: "DataLayer/sample/loadSample.ts",
    expression: "tables",
    why: "the paths of PURCHASING_TABLES, joined",
  },
  {
    file: "DataLayer/sample/loadSample.ts",
    expression: "table.path",
    why: "the path of a TableSpec constant",
  },
  {
    file: "DataLayer/sample/loadSample.ts",
    expression: "names",
    why: "the column names of a TableSpec constant, joined",
  },
  {
    file: "DataLayer/sample/loadSample.ts",
    expression: "i",
    why: "a placeholder's number, the index of a column",
  },
  {
    file: "DataLayer/beginTransaction.ts",
    expression: "statement",
    why: "openTransaction's START TRANSACTION, at a level it checked",
  },
  {
    file: "DataLayer/claim.ts",
    expression: 'statements.join("; ")',
    why: "a RoundCommit's statements, openTransaction's START TRANSACTION at a level it checked, constant SET LOCAL statements, and the claim with its values quoted by the driver's escapeLiteral",
  },
  {
    file: "DataLayer/commitOutcomes.ts",
    expression: 'commit.statements.join("; ")',
    why: "a RoundCommit's statements: COMMIT, after recordEveryOutcome: outcomeUpdate, built from identifiers and quoted values, and a check given a count",
  },
  {
    file: "DataLayer/sendStatements.ts",
    expression: "query",
    why: "a TaggedQuery of the text its caller passed to sendStatements, which this scan checks at that call",
  },
  {
    file: "DataLayer/claim.ts",
    expression: "sql",
    why: "the claim statement built by TypeORM's query builder, values bound",
  },
  {
    file: "DataLayer/claim.ts",
    expression: "range",
    why: "a comparison operator constant, >= or <",
  },
  {
    file: "DataLayer/claim.ts",
    expression: "PASS_OVER[passOver]",
    why: "a constant filter on system columns, chosen by a typed name",
  },
  {
    file: "DataLayer/sample/loadSample.ts",
    expression: "baseType(column.type)",
    why: "a placeholder's array type, from a TableSpec constant",
  },
];

/** Unsafe is one interpolation the rules did not accept. */
interface Unsafe {
  readonly file: string;
  readonly line: number;
  readonly expression: string;
}

/** SqlScan is what the scan of the SQL folders found. */
interface SqlScan {
  readonly querySites: number;
  readonly interpolations: number;
  readonly unsafe: readonly Unsafe[];
}

describe("SQL built by the product", function () {
  let scan: SqlScan;

  before(function () {
    scan = scanSql(sourceFiles(SQL_FOLDERS));
  });

  it("finds the query call sites and their interpolations", function () {
    // Guards against a scan that matches nothing and passes for it.
    expect(scan.querySites).to.be.at.least(40);
    expect(scan.interpolations).to.be.at.least(30);
  });

  it("reports a value interpolated into a query, with its line", function () {
    const source = [
      "async function f(manager, name, id) {",
      "  const table = tableOf(manager, BatchJob);",
      "  await manager.query(`SELECT * FROM ${table} WHERE x = '${name}'`);",
      "  await manager.createQueryBuilder(BatchJob).where(`id = ${id}`);",
      "  const col = (p) => columnOf(manager, BatchJob, p);",
      "  const quoted = (v) => `'${v}'`;",
      "  await manager.query(`SELECT ${col('id')} WHERE ${quoted(name)}`);",
      "}",
    ].join("\n");
    const file = ts.createSourceFile(
      "Example.ts",
      source,
      ts.ScriptTarget.Latest,
      true,
    );

    const found = scanSql([file]);

    expect(found.unsafe).to.deep.equal([
      { file: "Example.ts", line: 3, expression: "name" },
      { file: "Example.ts", line: 4, expression: "id" },
      { file: "Example.ts", line: 6, expression: "v" },
    ]);
    expect(found.querySites).to.equal(2);
  });

  it("interpolates only identifiers from metadata and constants", function () {
    const reviewed = scan.unsafe.filter((site) => !isReviewed(site));

    const report = reviewed.map(
      (site) => `${site.file}:${site.line} interpolates ${site.expression}`,
    );
    expect(report, "SQL built from more than identifiers").to.deep.equal([]);
  });

  it("keeps each reviewed exception in use", function () {
    const stale = REVIEWED.filter(
      (entry) => !scan.unsafe.some((site) => matches(entry, site)),
    );

    const names = stale.map((entry) => `${entry.file}: ${entry.expression}`);
    expect(names).to.deep.equal([]);
  });
});

describe("code loaded by the runner", function () {
  it("requires and imports only literal module names, or --tasks", function () {
    const loads = dynamicLoads(sourceFiles(LOADING_FOLDERS));

    // The one computed load: modules named with --tasks on the command
    // line, never a name read from the task table.
    expect(loads).to.deep.equal([
      "SimpleBatchRunner/main.ts: require(resolved) in loadTaskModules",
    ]);
  });
});

function isReviewed(site: Unsafe): boolean {
  return REVIEWED.some((entry) => matches(entry, site));
}

function matches(entry: (typeof REVIEWED)[number], site: Unsafe): boolean {
  return entry.file === site.file && entry.expression === site.expression;
}

/** sourceFiles parses every .ts file under the folders, by relative path. */
function sourceFiles(folders: readonly string[]): ts.SourceFile[] {
  return folders.flatMap((folder) =>
    walk(path.join(CHECKOUT, folder)).map((file) =>
      ts.createSourceFile(
        path.relative(CHECKOUT, file).split(path.sep).join("/"),
        fs.readFileSync(file, "utf8"),
        ts.ScriptTarget.Latest,
        true,
      ),
    ),
  );
}

function walk(folder: string): string[] {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return walk(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/**
 * scanSql checks the SQL argument of every query and query-builder call.
 * An argument is safe when it is a string, or a template or `+` whose
 * every interpolation is safe: an identifier helper's call, one of our
 * constants, `xs.map(x => safe).join(string)`, a `const` in scope whose
 * value is safe, or a call of a `const` arrow function whose body is safe.
 * Anything else is reported where it is interpolated.
 */
function scanSql(files: readonly ts.SourceFile[]): SqlScan {
  let querySites = 0;
  let interpolations = 0;
  const unsafe: Unsafe[] = [];

  for (const file of files) {
    const report = (node: ts.Node) => {
      const { line } = file.getLineAndCharacterOfPosition(node.getStart());
      unsafe.push({
        file: file.fileName,
        line: line + 1,
        expression: node.getText(),
      });
    };
    const check = (node: ts.Expression, depth: number): void => {
      if (!isSafe(node, depth)) report(node);
    };
    const isSafe = (node: ts.Expression, depth: number): boolean => {
      if (depth > 10) return false;
      if (ts.isStringLiteralLike(node) || ts.isNumericLiteral(node)) {
        return true;
      }
      if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node)) {
        return isSafe(node.expression, depth);
      }
      if (ts.isTemplateExpression(node)) {
        for (const span of node.templateSpans) {
          interpolations += 1;
          check(span.expression, depth + 1);
        }
        return true;
      }
      if (
        ts.isBinaryExpression(node) &&
        node.operatorToken.kind === ts.SyntaxKind.PlusToken
      ) {
        check(node.left, depth);
        check(node.right, depth);
        return true;
      }
      if (ts.isConditionalExpression(node)) {
        check(node.whenTrue, depth);
        check(node.whenFalse, depth);
        return true;
      }
      if (ts.isArrayLiteralExpression(node)) {
        return node.elements.every((element) => isSafe(element, depth + 1));
      }
      if (ts.isCallExpression(node)) return isSafeCall(node, depth);
      if (ts.isIdentifier(node)) {
        if (IDENTIFIER_CONSTANTS.has(node.text)) return true;
        const value = constValue(node);
        return value !== undefined && isSafe(value, depth + 1);
      }
      return false;
    };
    const isSafeCall = (node: ts.CallExpression, depth: number): boolean => {
      const callee = node.expression;
      const name = ts.isIdentifier(callee)
        ? callee.text
        : ts.isPropertyAccessExpression(callee)
          ? callee.name.text
          : undefined;
      if (name !== undefined && IDENTIFIER_HELPERS.has(name)) return true;
      if (name !== undefined && LITERAL_HELPERS.has(name)) return true;

      // const job = (p) => `job.${columnOf(manager, BatchJob, p)}`
      if (ts.isIdentifier(callee)) {
        const helper = constValue(callee);
        return (
          helper !== undefined &&
          ts.isArrowFunction(helper) &&
          ts.isExpression(helper.body) &&
          isSafe(helper.body, depth + 1)
        );
      }

      // xs.map((x) => safe).join(", ")
      if (name !== "join" || !ts.isPropertyAccessExpression(callee)) {
        return false;
      }
      const mapped = callee.expression;
      if (!ts.isCallExpression(mapped)) return false;
      const map = mapped.expression;
      const [mapper] = mapped.arguments;
      if (!ts.isPropertyAccessExpression(map) || map.name.text !== "map") {
        return false;
      }
      if (mapper === undefined || !ts.isArrowFunction(mapper)) return false;
      if (!ts.isExpression(mapper.body)) return false;
      return (
        isSafe(mapper.body, depth + 1) &&
        node.arguments.every((argument) => isSafe(argument, depth + 1))
      );
    };

    const visit = (node: ts.Node): void => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression)
      ) {
        const method = node.expression.name.text;
        const sql = SQL_METHODS.has(method)
          ? node.arguments[0]
          : JOIN_METHODS.has(method)
            ? node.arguments[2]
            : undefined;
        if (method === "query") querySites += 1;
        if (sql !== undefined) check(sql, 0);
      }
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        SQL_FUNCTIONS.has(node.expression.text)
      ) {
        querySites += 1;
        check(node.arguments[0], 0);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return { querySites, interpolations, unsafe };
}

/**
 * constValue finds the value of a `const` that is declared, with a value,
 * in a block around `name`; undefined for anything else (a parameter, a
 * `let`, a loop variable, an import).
 */
function constValue(name: ts.Identifier): ts.Expression | undefined {
  for (let scope = name.parent; scope !== undefined; scope = scope.parent) {
    if (!ts.isBlock(scope) && !ts.isSourceFile(scope)) continue;
    for (const statement of scope.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      if (!(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
      for (const declaration of statement.declarationList.declarations) {
        const declared = declaration.name;
        if (ts.isIdentifier(declared) && declared.text === name.text) {
          return declaration.initializer;
        }
      }
    }
  }
  return undefined;
}

/**
 * dynamicLoads lists each require() and import() whose module name is not
 * a string literal, as "file: call in function".
 */
function dynamicLoads(files: readonly ts.SourceFile[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && isLoader(node)) {
        const [argument] = node.arguments;
        if (argument === undefined || !ts.isStringLiteralLike(argument)) {
          const where = functionOf(node);
          found.push(`${file.fileName}: ${node.getText()} in ${where}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

function isLoader(node: ts.CallExpression): boolean {
  if (node.expression.kind === ts.SyntaxKind.ImportKeyword) return true;
  return ts.isIdentifier(node.expression) && node.expression.text === "require";
}

function functionOf(node: ts.Node): string {
  for (let at: ts.Node | undefined = node.parent; at; at = at.parent) {
    if (ts.isFunctionDeclaration(at) || ts.isMethodDeclaration(at)) {
      return at.name?.getText() ?? "an anonymous function";
    }
  }
  return "the module";
}
