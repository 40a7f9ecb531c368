import { expect } from "chai";
import { lintDockerfile, parseDockerfile } from "./dockerfileLint";

describe("lintDockerfile", () => {
  const context = {
    exists: (file: string) =>
      ["package.json", "src", "node_modules"].includes(file),
    ignored: (file: string) => file === "node_modules",
  };
  const lint = (text: string) => lintDockerfile(text, context);
  const good = 'FROM node:20-slim\nUSER node\nENTRYPOINT ["node", "main.js"]\n';

  it("accepts a pinned image, a non-root user and an exec-form entrypoint", () => {
    expect(lint(good)).to.deep.equal([]);
  });

  it("flags a shell-form entrypoint or command", () => {
    const problems = lint(
      "FROM node:20-slim\nUSER node\nENTRYPOINT node main.js\nCMD --serve\n",
    );

    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/^line 3: ENTRYPOINT is in shell form/);
    expect(problems[1]).to.match(/^line 4: CMD is in shell form/);
  });

  it("flags images without a tag or tagged latest", () => {
    const problems = lint(
      good.replace("node:20-slim", "node") +
        good.replace("node:20-slim", "node:latest"),
    );

    expect(problems).to.deep.equal([
      "line 1: image node has no tag; pin a major version",
      "line 4: image node:latest is not pinned to a major version",
    ]);
  });

  it("accepts an earlier stage as a base image", () => {
    expect(
      lint(
        `FROM node:20-slim AS base\n${good.replace("node:20-slim", "base")}`,
      ),
    ).to.deep.equal([]);
  });

  it("flags a final stage that runs as root or names no user", () => {
    expect(lint(good.replace("USER node", "USER 0:0"))).to.deep.equal([
      "line 2: final stage runs as root",
    ]);
    expect(lint(good.replace("USER node\n", ""))).to.deep.equal([
      "line 1: final stage has no USER, so it runs as root",
    ]);
  });

  it("flags copy sources that are missing or ignored", () => {
    const problems = lint(
      `${good}COPY package.json src lib ./\nCOPY ["node_modules", "."]\n`,
    );

    expect(problems).to.deep.equal([
      "line 4: COPY source lib does not exist",
      "line 5: COPY source node_modules is excluded by .dockerignore",
    ]);
  });

  it("flags a copy from a stage not defined earlier", () => {
    const text = `FROM node:20-slim AS build\nCOPY --from=runtime /app ./\n${good}COPY --from=build /app ./\n`;

    expect(lint(text)).to.deep.equal([
      "line 2: COPY --from=runtime names no earlier stage",
    ]);
  });

  it("joins continued lines and skips comments inside them", () => {
    const [stage] = parseDockerfile(
      "FROM node:20-slim\nRUN npm ci \\\n# a note\n    && npm test\n",
    );

    expect(stage!.instructions).to.deep.equal([
      { keyword: "RUN", args: "npm ci && npm test", line: 2 },
    ]);
  });
});
