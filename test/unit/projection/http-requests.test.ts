import { describe, expect, it } from 'vitest';
import { crudRequest, flowManagerFields, restRequest } from '../../../src/projection/http-sink.ts';
import { sagaDoc } from './fixtures.ts';

const FLOW_MANAGER_FIELDS = [
  'sagaId',
  'latestEvent',
  'history',
  'currentState',
  'associatedEntityId',
  'isFinal',
  'businessStateId',
  'businessStateDescription',
  'metadata',
].sort();

describe('flowManagerFields', () => {
  it('sends exactly Flow Manager fields by default, so a CRUD schema made for Flow Manager accepts it', () => {
    expect(Object.keys(flowManagerFields(sagaDoc())).sort()).toEqual(FLOW_MANAGER_FIELDS);
  });

  it('adds revision and timestamps with fields=all', () => {
    const body = flowManagerFields(sagaDoc({ revision: 7 }), 'all');
    expect(body.revision).toBe(7);
    expect(body.createdAt).toBe('2024-01-01T00:00:00.000Z');
  });

  it('omits absent optional fields rather than sending null', () => {
    const saga = sagaDoc();
    delete saga.businessStateId;
    delete saga.businessStateDescription;
    expect(Object.keys(flowManagerFields(saga))).not.toContain('businessStateId');
  });
});

describe('crudRequest', () => {
  it('posts $set to <collection>/upsert-one?sagaId=, like Flow Manager', () => {
    const req = crudRequest({ protocol: 'http', host: 'crud-service', port: 8080, collectionName: 'sagas' }, sagaDoc({ sagaId: 'EXAMPLE_1' }));
    expect(req.method).toBe('POST');
    expect(req.url).toBe('http://crud-service:8080/sagas/upsert-one?sagaId=EXAMPLE_1');
    expect(Object.keys(req.body)).toEqual(['$set']);
    expect((req.body.$set as Record<string, unknown>).sagaId).toBe('EXAMPLE_1');
  });

  it('defaults to http, port 80, trims slashes of the collection path and encodes the id', () => {
    const req = crudRequest({ host: 'crud', collectionName: '/flow/sagas/' }, sagaDoc({ sagaId: 'a b&c' }));
    expect(req.url).toBe('http://crud:80/flow/sagas/upsert-one?sagaId=a%20b%26c');
  });
});

describe('restRequest', () => {
  it('sends {method} {protocol}://{endpoint}:{port}{path}/{sagaId} without sagaId in the body', () => {
    const req = restRequest({ protocol: 'https', endpoint: 'pm', port: 3000, method: 'PUT', path: '/sagas' }, sagaDoc({ sagaId: 'S1' }));
    expect(req).toMatchObject({ method: 'PUT', url: 'https://pm:3000/sagas/S1' });
    expect(Object.keys(req.body).sort()).toEqual(FLOW_MANAGER_FIELDS.filter((f) => f !== 'sagaId'));
  });

  it('matches Flow Manager\'s documented example (POST, root path)', () => {
    const req = restRequest({ protocol: 'http', endpoint: 'my-persistency-manager', port: 3000, method: 'POST' }, sagaDoc({ sagaId: 'EXAMPLE_123456_SAGA' }));
    expect(req.url).toBe('http://my-persistency-manager:3000/EXAMPLE_123456_SAGA');
    expect(restRequest({ endpoint: 'pm', path: '/' }, sagaDoc({ sagaId: 'x' })).url).toBe('http://pm/x');
  });
});
