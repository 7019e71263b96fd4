import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { BERTH, berth, tempRoot } from '../helpers/berth.js';
import { commands } from '../../src/cli/commands/index.js';
import { distance, suggest } from '../../src/cli/help/suggest.js';

const DOCKER = '/usr/local/bin/docker';
const hasDocker = fs.existsSync(DOCKER);

test('suggestions: edit distance with swaps, nearest first, prefixes', () => {
  assert.equal(distance('rnu', 'run'), 1);
  assert.equal(distance('imgaes', 'images'), 1);
  assert.equal(distance('ps', 'ps'), 0);
  assert.equal(distance('', 'abc'), 3);
  assert.deepEqual(suggest('rnu', ['run', 'rm', 'rmi', 'ps']), ['run', 'rm', 'rmi']);
  assert.deepEqual(suggest('fliter', ['filter', 'format', 'all']), ['filter']);
  assert.deepEqual(suggest('netw', ['network', 'net', 'name']), ['net', 'network']);
  assert.deepEqual(suggest('zzzzzz', ['run', 'ps']), []);
});

test('every command --help and help COMMAND: Usage, description, Aliases, every flag with one line', async () => {
  const t = tempRoot('berth-help');
  try {
    for (const entry of commands.filter((c) => !c.hidden)) {
      const cmd = await entry.load();
      const words = entry.names[0]!;
      const r = berth(t.root, [...words, '--help']);
      assert.equal(r.code, 0, `${words.join(' ')} --help: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.startsWith(`Usage:  berth ${cmd.usage}\n\n${entry.summary}\n`), r.stdout);
      if (entry.names.length > 1) assert.match(r.stdout, /\nAliases:\n {2}berth .*, berth /);
      for (const [name, o] of Object.entries(cmd.options)) {
        const line = r.stdout.split('\n').find((l) => new RegExp(`^ {2}(-\\w, | {4})--${name}\\b`).test(l));
        assert.ok(line, `${words.join(' ')}: no line for --${name}`);
        assert.match(line, /\S {3,}\S/, `${words.join(' ')} --${name} has no description: ${line}`);
        if (o.short) assert.ok(line.startsWith(`  -${o.short}, --${name}`));
      }
      assert.equal(berth(t.root, ['help', ...words]).stdout, r.stdout);
    }
    // flags are sorted as cobra sorts them, defaults shown
    const ps = berth(t.root, ['ps', '--help']).stdout;
    const names = [...ps.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)].map((m) => m[1]!);
    assert.deepEqual(names, [...names].sort());
    assert.match(ps, /--last int +Show n last created containers .*\(default -1\)/);
    assert.match(
      berth(t.root, ['run', '--help']).stdout,
      /--pull string +Pull image before running .*\(default "missing"\)/,
    );
    // run's -h is --hostname, not help
    assert.match(berth(t.root, ['run', '-h']).stderr, /flag needs an argument: --hostname/);
  } finally {
    t.remove();
  }
});

test('management commands list their subcommands; aliases run the verb', () => {
  const t = tempRoot('berth-help');
  try {
    for (const g of ['image', 'container', 'system', 'network', 'volume', 'builder']) {
      const alone = berth(t.root, [g]);
      assert.equal(alone.code, 0);
      assert.equal(alone.stdout, '');
      assert.match(alone.stderr, new RegExp(`^Usage: {2}berth ${g} COMMAND\\n\\nManage .*\\n\\nCommands:\\n`));
      assert.match(
        alone.stderr,
        new RegExp(`\\nRun 'berth ${g} COMMAND --help' for more information on a command\\.\\n$`),
      );
      const help = berth(t.root, [g, '--help']);
      assert.equal(help.code, 0);
      assert.equal(help.stdout, alone.stderr);
    }
    assert.match(berth(t.root, ['image']).stderr, /\n {2}ls {10}List images\n/);
    assert.equal(berth(t.root, ['image', 'ls']).stdout, berth(t.root, ['images']).stdout);
    assert.equal(berth(t.root, ['container', 'ls', '-a']).stdout, berth(t.root, ['ps', '-a']).stdout);
    assert.equal(berth(t.root, ['container', 'ps']).code, 0);
  } finally {
    t.remove();
  }
});

test('unknown commands and flags: suggestions, streams and exit codes', () => {
  const t = tempRoot('berth-help');
  try {
    const rnu = berth(t.root, ['rnu']);
    assert.equal(rnu.code, 1);
    assert.equal(
      rnu.stderr,
      "berth: unknown command: berth rnu\n\nDid you mean this?\n\trun\n\trm\n\trmi\n\nRun 'berth --help' for more information\n",
    );
    const lss = berth(t.root, ['image', 'lss']);
    assert.equal(lss.code, 1);
    assert.match(
      lss.stderr,
      /^berth: unknown command: berth image lss\n\nDid you mean this\?\n\tls\n\nUsage: {2}berth image\n/,
    );
    const flag = berth(t.root, ['ps', '--fliter', 'x']);
    assert.equal(flag.code, 125);
    assert.equal(
      flag.stderr,
      "unknown flag: --fliter\n\nDid you mean this?\n\t--filter\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n",
    );
    const run = berth(t.root, ['run']);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth run --help' for more information\n",
    );
    assert.match(berth(t.root, ['tag', 'a']).stderr, /^berth: 'berth tag' requires 2 arguments\n/);
    assert.match(berth(t.root, ['ps', 'x']).stderr, /^berth: 'berth ps' accepts no arguments\n/);
    const none = berth(t.root, []);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /^Usage: {2}berth \[OPTIONS\] COMMAND\n/);
    assert.match(none.stderr, /\nCommon Commands:\n {2}run {9}Create and run/);
    assert.match(none.stderr, /\nManagement Commands:\n {2}builder/);
  } finally {
    t.remove();
  }
});

test("exit codes and streams as docker 28's CLI", { skip: !hasDocker && 'no docker CLI' }, () => {
  const t = tempRoot('berth-help');
  try {
    const cases = [
      [],
      ['--help'],
      ['rnu'],
      ['image'],
      ['image', '--help'],
      ['image', 'foo'],
      ['volume'],
      ['help', 'run'],
      ['ps', '--xyz'],
      ['images', '--xyz'],
      ['image', 'ls', '--xyz'],
      ['run', '-z'],
      ['ps', '--filter'],
      ['ps', '--help'],
      ['run'],
      ['ps', 'x'],
      ['rename', 'a'],
      ['logs', 'a', 'b'],
      ['port'],
      ['commit'],
      ['cp', 'a'],
      ['images', 'a', 'b'],
      ['volume', 'create', 'a', 'b'],
      ['network', 'connect', 'n'],
    ];
    for (const args of cases) {
      const d = spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' } });
      const b = berth(t.root, args);
      const what = `berth ${args.join(' ')}`;
      assert.equal(b.code, d.status, what);
      assert.equal(b.stdout === '', d.stdout.length === 0, `${what}: stdout`);
      assert.equal(b.stderr === '', d.stderr.length === 0, `${what}: stderr`);
      // the same first line, berth for docker
      const first = (s: string) => s.split('\n')[0]!.replaceAll('docker', 'berth');
      assert.equal(first(b.stdout || b.stderr), first((d.stdout.length ? d.stdout : d.stderr).toString()), what);
    }
    // the same sections in the same order
    const sections = (s: string) => s.split('\n').filter((l) => /^[A-Z][\w ]*:$/.test(l));
    for (const args of [
      ['ps', '--help'],
      ['run', '--help'],
      ['image', 'ls', '--help'],
      ['network', 'rm', '--help'],
    ])
      assert.deepEqual(
        sections(berth(t.root, args).stdout),
        sections(spawnSync(DOCKER, args).stdout.toString()),
        args.join(' '),
      );
  } finally {
    t.remove();
  }
});

test('messages that point the way forward', () => {
  const t = tempRoot('berth-help');
  try {
    const bad = berth(t.root, ['run', '--pull', 'never', 'Bad/Name']);
    assert.equal(bad.code, 125);
    assert.match(
      bad.stderr,
      /^berth: invalid reference format: repository name \(Bad\/Name\) must be lowercase\n\nRun 'berth run --help'/,
    );
    const missing = berth(t.root, ['run', '--pull', 'never', 'nosuch:1']);
    assert.equal(missing.code, 125);
    assert.match(
      missing.stderr,
      /No such image: nosuch:1\n.*'berth pull nosuch:1'.*'berth load -i FILE'.*'berth build -t nosuch:1 DIR'/,
    );
    // stdin is not a terminal here (spawnSync's pipe)
    const it = berth(t.root, ['run', '-it', '--pull', 'never', 'nosuch:1', 'sh']);
    assert.equal(it.code, 1);
    assert.equal(it.stderr, 'the input device is not a TTY\n');
    assert.equal(berth(t.root, ['exec', '-it', 'nosuch', 'sh']).stderr, 'the input device is not a TTY\n');
    fs.chmodSync(t.root, 0o777);
    const user = spawnSync('setpriv', [
      '--reuid',
      '65534',
      '--regid',
      '65534',
      '--clear-groups',
      BERTH,
      '--root',
      t.root,
      'ps',
    ]);
    assert.equal(user.status, 1);
    assert.match(
      user.stderr.toString(),
      /^berth: berth needs root: .*rootless mode does not exist yet.*'sudo berth ps'\n$/,
    );
    assert.doesNotMatch(user.stderr.toString(), /EACCES/);
  } finally {
    t.remove();
  }
});

test('completion: bash script completes commands, subcommands, flags and store names', () => {
  const t = tempRoot('berth-help');
  try {
    const dir = fs.mkdtempSync('/tmp/berth-comp-');
    fs.writeFileSync(`${dir}/f`, 'hi');
    assert.equal(spawnSync('tar', ['-C', dir, '-cf', `${dir}/t.tar`, 'f']).status, 0);
    assert.equal(berth(t.root, ['import', `${dir}/t.tar`, 'compimg:1']).code, 0);
    assert.equal(berth(t.root, ['create', '--name', 'compbox', 'compimg:1', '/f']).code, 0);
    assert.equal(berth(t.root, ['volume', 'create', 'compvol']).code, 0);
    const script = berth(t.root, ['completion', 'bash']).stdout;
    fs.writeFileSync(`${dir}/berth.bash`, script);
    const complete = (...words: string[]) => {
      const r = spawnSync(
        'bash',
        [
          '-c',
          `source ${dir}/berth.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _berth; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'x',
          'berth',
          '--root',
          t.root,
          ...words,
        ],
        { env: { ...process.env, PATH: `${BERTH.replace(/\/berth$/, '')}:${process.env.PATH}` }, cwd: dir },
      );
      assert.equal(r.status, 0, r.stderr.toString());
      return r.stdout
        .toString()
        .split('\n')
        .filter((l) => l);
    };
    assert.deepEqual(complete('ru'), ['run']);
    assert.deepEqual(complete('image', 'l'), ['layers', 'load', 'ls']);
    assert.deepEqual(complete('ps', '--fi'), ['--filter']);
    assert.deepEqual(complete('start', ''), ['compbox']);
    assert.deepEqual(complete('run', 'comp'), ['compimg:1']);
    assert.deepEqual(complete('run', '--network', 'b'), ['bridge']);
    assert.deepEqual(complete('volume', 'rm', ''), ['compvol']);
    assert.deepEqual(complete('network', 'connect', 'bridge', 'c'), ['compbox']);
    // nothing berth knows: the shell's files
    assert.deepEqual(complete('build', 't.t'), ['t.tar']);
    assert.match(berth(t.root, ['completion', 'zsh']).stdout, /^#compdef berth\n[\s\S]*__complete/);
    assert.equal(berth(t.root, ['rm', '-f', 'compbox']).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    t.remove();
  }
});
