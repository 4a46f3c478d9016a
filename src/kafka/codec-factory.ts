import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { KafkaProtocol } from '../definition/types.ts';
import type { ProcessorCodec } from './codec.ts';
import { registerSchemas } from './serdes/avro.ts';
import type { TopicSchema } from './serdes/avro.ts';
import { createSerdes } from './serdes/create.ts';
import { jsonSagaSerde } from './serdes/json.ts';
import type { Serdes } from './serdes/create.ts';

export interface CodecTopics {
  events: string;
  changelog: string;
  deadLetter: string;
  commands: string[];
}

/**
 * The processor's codec for a kafka channel (JSON or Avro, see serdes/create.ts). With Avro,
 * registers the schema of every named topic first, so that a registry refusing them stops
 * the start instead of the first record. Empty topic names are skipped.
 */
export async function createProcessorCodec(channel: KafkaProtocol, topics: CodecTopics, registry?: SchemaRegistry): Promise<ProcessorCodec> {
  const serdes = createSerdes(channel.configurations, registry);
  if (serdes.registry !== undefined) {
    const wanted: TopicSchema[] = [
      { topic: topics.events, kind: 'event' },
      { topic: topics.changelog, kind: 'saga' },
      ...topics.commands.map((topic): TopicSchema => ({ topic, kind: 'command' })),
    ];
    await registerSchemas(
      serdes.registry,
      wanted.filter((t) => t.topic !== ''),
    );
  }
  return codecOf(serdes);
}

/** The processor's codec over a channel's serdes (JSON ones need no registry: `codecOf(createSerdes({}))`). */
export function codecOf(serdes: Serdes): ProcessorCodec {
  return {
    decodeEvent: (topic, value) => serdes.event.deserialize(topic, value),
    encodeEvent: (topic, envelope) => serdes.event.serialize(topic, envelope),
    encodeCommand: (topic, envelope) => serdes.command.serialize(topic, envelope),
    decodeCommand: (topic, value) => serdes.command.deserialize(topic, value),
    encodeSaga: (topic, saga) => serdes.saga.serialize(topic, saga),
    decodeSaga: (topic, value) => serdes.saga.deserialize(topic, value),
    sagaJson: serdes.saga === jsonSagaSerde,
  };
}
