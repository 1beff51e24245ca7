// Runs calls through the AWS SDK for JavaScript v3 and prints each answer as JSON, for
// tests/test_emulator_node_sdk.py to compare with boto3's. Input on stdin:
//   {"endpoint": "...", "region": "...", "calls": [{"service", "operation", "params"}]}
// Bytes travel as {"$bytes": base64} both ways, timestamps come out as {"$time": epoch ms}.
import * as dynamodb from "@aws-sdk/client-dynamodb";
import * as kinesis from "@aws-sdk/client-kinesis";
import * as sqs from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const SERVICES = {
  dynamodb: [dynamodb, dynamodb.DynamoDBClient],
  kinesis: [kinesis, kinesis.KinesisClient],
  sqs: [sqs, sqs.SQSClient],
};

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (Object.keys(value).length === 1 && "$bytes" in value) {
      return Uint8Array.from(Buffer.from(value.$bytes, "base64"));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

function encode(value) {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (value instanceof Date) return { $time: value.getTime() };
  if (value instanceof Set) return [...value].map(encode);
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value)
      .filter(([k, v]) => k !== "$metadata" && v !== undefined)
      .map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const clients = {};
const results = [];
for (const { service, operation, params } of input.calls) {
  const [module, Client] = SERVICES[service];
  clients[service] ??= new Client({
    endpoint: input.endpoint, region: input.region, maxAttempts: 1,
    // The Kinesis client defaults to HTTP/2, which AWS offers over TLS; on a plain http://
    // endpoint (the emulator's, LocalStack's) the SDK is given its HTTP/1.1 handler.
    requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: "orderhist-local", secretAccessKey: "orderhist-local-secret" },
  });
  const Command = module[`${operation}Command`];
  try {
    const reply = await clients[service].send(new Command(decode(params)));
    results.push({ ok: encode(reply) });
  } catch (error) {
    results.push({ error: { code: error.name, message: error.message,
                            status: error.$metadata?.httpStatusCode ?? null } });
  }
}
process.stdout.write(JSON.stringify(results));
