import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { kafkaLayout } from '../../../src/definition/topology.ts';
import type { KafkaProtocol } from '../../../src/definition/types.ts';

const root = new URL('../../../', import.meta.url).pathname;
const chart = JSON.parse(readFileSync(`${root}deploy/helm/sagaflow/files/saga.json`, 'utf8')) as { machineDefinition: unknown };

describe('Chart.yaml', () => {
  it("deploys the package's version by default (appVersion is the image tag when image.tag is empty)", () => {
    const chartYaml = readFileSync(`${root}deploy/helm/sagaflow/Chart.yaml`, 'utf8');
    const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
    expect(/^appVersion: "(.+)"$/m.exec(chartYaml)?.[1]).toBe(version);
  });
});

describe("the chart's default saga.json (compose mounts it too)", () => {
  it('is the tutorial reservation saga, unchanged', () => {
    const example = JSON.parse(readFileSync(`${root}examples/reservation/saga.json`, 'utf8')) as { machineDefinition: unknown };
    expect(chart.machineDefinition).toEqual(example.machineDefinition);
  });

  it('takes its brokers from KAFKA_BROKERS and its MongoDB URL from the mounted secret file', () => {
    const read: string[] = [];
    const result = parseSagaConfig(chart, {
      env: { KAFKA_BROKERS: 'kafka:29092' },
      readFile: (path) => {
        read.push(path);
        return 'mongodb://mongo:27017/sagaflow\n';
      },
    });
    expect(result.errors).toEqual([]);
    expect(read).toEqual(['/etc/sagaflow/secrets/mongodb-url']);
    const config = result.config;
    if (!config) throw new Error('not loaded');
    const layout = kafkaLayout(config);
    expect((layout.channel as KafkaProtocol).configurations.brokers).toEqual(['kafka:29092']);
    expect(layout).toMatchObject({ applicationId: 'reservation-sagaflow', eventsTopic: 'reservation-events' });
    expect([...layout.commandTopics.values()]).toEqual(['reservation-commands']);
    expect(config.persistencyManagement).toEqual({ type: 'mongo', configurations: { connectionUri: 'mongodb://mongo:27017/sagaflow', collectionName: 'reservations' } });
  });

  it('names the variable when KAFKA_BROKERS is not set', () => {
    const result = parseSagaConfig(chart, { env: {}, readFile: () => 'mongodb://mongo:27017/sagaflow' });
    expect(result.errors).toEqual([expect.objectContaining({ path: 'communicationProtocols[0].configurations.brokers[0]', message: expect.stringContaining('KAFKA_BROKERS') })]);
  });
});
