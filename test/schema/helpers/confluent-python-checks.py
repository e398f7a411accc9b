"""Drives a registry with Confluent's Python client (confluent-kafka) and prints what it answered
as one JSON object; test/schema/confluent-python-interop.test.ts asserts on it.

    python confluent-python-checks.py <registry url> <subject>
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

url, subject = sys.argv[1], sys.argv[2]
client = SchemaRegistryClient({'url': url})


def record(fields):
    return Schema(json.dumps({'type': 'record', 'name': 'Drift', 'fields': fields}), 'AVRO')


v1 = record([{'name': 'a', 'type': 'int'}])
v2 = record([{'name': 'b', 'type': 'string'}])
answers = {'contexts': client.get_contexts()}

# Two versions that cannot read each other's data, registered under NONE.
client.set_compatibility(subject, 'NONE')
answers['ids'] = [client.register_schema(subject, v1), client.register_schema(subject, v2)]

for level in ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']:
    client.set_compatibility(subject, level)
    answers[level] = {
        'all_versions': client.test_compatibility_all_versions(subject, v2),
        'latest': client.test_compatibility(subject, v2),
        'version_1': client.test_compatibility(subject, v2, version=1),
    }

# A subject with no versions yet has nothing to be incompatible with.
try:
    answers['missing_subject'] = client.test_compatibility_all_versions('missing-subject-value', v2)
except SchemaRegistryError as error:
    answers['missing_subject'] = {'http_status': error.http_status_code, 'error_code': error.error_code}

print(json.dumps(answers))
