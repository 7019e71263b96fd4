// berth as a library: make a base image from this machine's own programs, run a container from it,
// read its output and remove it. Data root: $BERTH_ROOT (default /var/lib/berth). Needs root.
//   BERTH_ROOT=/tmp/berth-example node examples/run-container.mjs
import { Engine } from 'berth';

const engine = await Engine.open({ root: process.env.BERTH_ROOT || '/var/lib/berth' });
await engine.images.fromHost('berth-example:base', ['sh', 'echo', 'hostname']);

const { Id, Warnings } = await engine.containers.create({
  Config: { Image: 'berth-example:base', Cmd: ['sh', '-c', 'echo "hello from $(hostname), PID $$"'] },
  HostConfig: {},
});
for (const w of Warnings) console.error(`warning: ${w}`);
try {
  await engine.containers.start(Id);
  const { StatusCode } = await engine.containers.wait(Id, { condition: 'not-running' });
  for await (const entry of engine.containers.logs(Id, { stdout: true, stderr: true })) {
    process.stdout.write(`${entry.stream}: ${entry.line}`);
  }
  console.log(`exit code ${StatusCode}`);
} finally {
  await engine.containers.remove(Id, { force: true });
}
