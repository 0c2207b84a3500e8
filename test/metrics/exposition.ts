/** Just enough of a Prometheus text-format reader to check what the exporter writes. */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: string;
}

export interface Exposition {
  /** Family name -> `# TYPE` of it. */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      if (name && type) types.set(name, type);
      continue;
    }
    samples.push(parseSample(line));
  }
  return { types, samples };
}

function parseSample(line: string): Sample {
  const brace = line.indexOf('{');
  if (brace < 0) {
    const [name = '', value = ''] = line.split(' ');
    return { name, labels: {}, value };
  }
  const name = line.slice(0, brace);
  const labels: Record<string, string> = {};
  let i = brace + 1;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    const label = line.slice(i, eq);
    if (line[eq + 1] !== '"') throw new Error(`unquoted value of ${label} in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (; line[j] !== '"'; j++) {
      if (j >= line.length) throw new Error(`unterminated value of ${label} in: ${line}`);
      if (line[j] === '\\') {
        j++;
        value += line[j] === 'n' ? '\n' : line[j];
      } else {
        value += line[j];
      }
    }
    labels[label] = value;
    i = j + 1;
    if (line[i] === ',') i++;
  }
  return { name, labels, value: line.slice(i + 2) };
}
