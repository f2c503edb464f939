import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FhirError } from '../../src/errors/errors.js';
import { parseRegistration, RESERVED_PARAMETER_KEYS } from '../../src/launch/validate.js';

const rejects = (body: unknown, pattern: RegExp) => {
  assert.throws(
    () => parseRegistration(body),
    (e: unknown) => e instanceof FhirError && e.status === 400 && pattern.test(e.message),
  );
};

describe('launch registration body', () => {
  test('accepts the HSPC seed payload and keeps JSON types', () => {
    const r = parseRegistration({ client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY', need_patient_banner: false } });
    assert.equal(r.clientId, 'bilirubin_chart');
    assert.deepEqual(r.parameters, { patient: 'BILIBABY', need_patient_banner: false });
    assert.equal(r.parameters.need_patient_banner, false);
  });

  test('numbers, objects and arrays stay as they are (no HSPC string-ification)', () => {
    const r = parseRegistration({ parameters: { count: 5, ratio: 0.5, appContext: { a: [1, 2] }, list: ['x'] } });
    assert.deepEqual(r.parameters, { count: 5, ratio: 0.5, appContext: { a: [1, 2] }, list: ['x'] });
  });

  test('parameters may be empty or absent', () => {
    assert.deepEqual(parseRegistration({ parameters: {} }).parameters, {});
    assert.deepEqual(parseRegistration({ client_id: 'a' }).parameters, {});
  });

  test('need_patient_banner strings are converted, other types refused', () => {
    assert.equal(parseRegistration({ parameters: { need_patient_banner: 'false' } }).parameters.need_patient_banner, false);
    assert.equal(parseRegistration({ parameters: { need_patient_banner: 'true' } }).parameters.need_patient_banner, true);
    rejects({ parameters: { need_patient_banner: 'no' } }, /need_patient_banner must be a boolean/);
    rejects({ parameters: { need_patient_banner: 0 } }, /need_patient_banner must be a boolean/);
  });

  test('smartStyleUrl is an alias of smart_style_url', () => {
    const r = parseRegistration({ parameters: { smartStyleUrl: 'https://ehr.example/style.json' } });
    assert.deepEqual(r.parameters, { smart_style_url: 'https://ehr.example/style.json' });
    rejects({ parameters: { smartStyleUrl: 'https://a/s.json', smart_style_url: 'https://b/s.json' } }, /either smartStyleUrl or smart_style_url/);
    rejects({ parameters: { smart_style_url: 'not a url' } }, /absolute http/);
  });

  test('CDS Hooks variant: launchUrl, appContext string, smart_messaging_origin', () => {
    const r = parseRegistration({
      launchUrl: 'https://app.example/launch.html',
      parameters: { patient: 'p1', smart_messaging_origin: 'https://sandbox.cds-hooks.org', appContext: '{"x":1}' },
    });
    assert.equal(r.launchUrl, 'https://app.example/launch.html');
    assert.equal(r.parameters.smart_messaging_origin, 'https://sandbox.cds-hooks.org');
  });

  test('fhirContext must be an array of objects with reference, canonical or identifier', () => {
    assert.ok(parseRegistration({ parameters: { fhirContext: [{ reference: 'Observation/1' }] } }));
    rejects({ parameters: { fhirContext: { reference: 'Observation/1' } } }, /array of objects/);
    rejects({ parameters: { fhirContext: ['Observation/1'] } }, /array of objects/);
    rejects({ parameters: { fhirContext: [{ role: 'x' }] } }, /reference, canonical or identifier/);
  });

  for (const key of RESERVED_PARAMETER_KEYS) {
    test(`reserved key ${key} is refused`, () => rejects({ parameters: { [key]: 'x' } }, new RegExp(`reserved parameter key\\(s\\) not allowed: ${key}`)));
  }

  test('bad shapes are refused with a message', () => {
    rejects(null, /JSON object/);
    rejects([], /JSON object/);
    rejects('text', /JSON object/);
    rejects({ parameters: [] }, /parameters must be a JSON object/);
    rejects({ parameters: 'patient=1' }, /parameters must be a JSON object/);
    rejects({ client_id: 7 }, /client_id must be a non-empty string/);
    rejects({ client_id: '' }, /client_id must be a non-empty string/);
    rejects({ clientId: 'x' }, /unknown top-level field\(s\): clientId/);
    rejects({ parameters: { patient: 12 } }, /parameters.patient must be a non-empty string/);
    rejects({ parameters: { patient: 'a/b' } }, /not a valid FHIR id/);
    rejects({ expires_in: -1 }, /expires_in must be a positive integer/);
    rejects({ expires_in: '60' }, /expires_in must be a positive integer/);
    rejects({ username: 'dr', parameters: {} }, /username needs client_id/);
  });
});
