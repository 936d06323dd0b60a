import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** Wire size of each request a server decoded, for the per-method limits. */
const requestSizes = new WeakMap<object, number>();

/** The size in bytes a decoded request had on the wire (0 when unknown). */
export function requestSize(msg: unknown): number {
  return typeof msg === "object" && msg !== null ? (requestSizes.get(msg) ?? 0) : 0;
}

/** The grpc-js service definition of a protobuf-es service: binary protobuf on the wire. */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    def[m.localName] = {
      path: methodPath(service, m.name),
      originalName: m.localName,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: serializer(m.input),
      requestDeserialize: (b: Buffer) => {
        const msg = fromBinary(m.input, b);
        requestSizes.set(msg, b.length);
        return msg;
      },
      responseSerialize: serializer(m.output),
      responseDeserialize: (b: Buffer) => fromBinary(m.output, b),
    };
  }
  return def;
}

export function methodPath(service: DescService, method: string): string {
  return `/${service.typeName}/${method}`;
}

function serializer(schema: DescMessage): (value: unknown) => Buffer {
  return (value) =>
    Buffer.from(toBinary(schema, create(schema, value as MessageInitShape<DescMessage>)));
}

/** Message types of a method descriptor in a generated service. */
export type MethodIn<M> = M extends { input: infer I extends DescMessage } ? I : never;
export type MethodOut<M> = M extends { output: infer O extends DescMessage } ? O : never;
export type Req<M> = MessageShape<MethodIn<M>>;
export type ResInit<M> = MessageInitShape<MethodOut<M>>;
export type Res<M> = MessageShape<MethodOut<M>>;
export type ReqInit<M> = MessageInitShape<MethodIn<M>>;
