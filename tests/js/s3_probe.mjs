// The seed's S3 GET (allowed) and a PUT (denied) with the AWS SDK for JavaScript v3, its
// credentials from the SDK's default chain: the container provider (fromContainerMetadata /
// fromHttp, AWS_CONTAINER_CREDENTIALS_FULL_URI) or IMDS (fromInstanceMetadata,
// AWS_EC2_METADATA_SERVICE_ENDPOINT), whatever the environment selects.
//
// Usage: node s3_probe.mjs MODE CALLS. Each of the CALLS rounds builds a new client (so its
// credentials are resolved again through the chain). Prints one JSON line:
// {"get", "put", "errors", "accessKeyId", "accountId"}.
import { S3Client, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";

const [mode, callsArg] = process.argv.slice(2);
const calls = Number(callsArg || "1");
const endpoint = process.env.S3_ENDPOINT;
const Bucket = process.env.S3_BUCKET;
let get = null, put = null, errors = 0, accessKeyId = null, accountId = null;

for (let i = 0; i < calls; i++) {
  const s3 = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION });
  try {
    const creds = await s3.config.credentials();
    accessKeyId = creds.accessKeyId;
    accountId = creds.accountId ?? null;
    const r = await s3.send(new GetObjectCommand({ Bucket, Key: "test.txt" }));
    get = await r.Body.transformToString();
  } catch (e) {
    errors++;
    console.error(`${mode} call ${i}: ${e.name}: ${e.message}`);
  }
  if (i === 0) {
    try {
      await s3.send(new PutObjectCommand({ Bucket, Key: "denied.txt", Body: "x" }));
      put = "allowed";
    } catch (e) {
      put = e.name;
    }
  }
  s3.destroy();
}
console.log(JSON.stringify({ get, put, errors, accessKeyId, accountId }));
