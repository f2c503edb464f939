// Launch URI of the bilirubin chart (docs/architecture.md §3). An EHR launch arrives with ?iss=…&launch=…;
// a standalone launch is launch.html?iss=<FHIR base> and lets the sandbox's patient picker choose
// (scope launch/patient). fhirclient discovers the endpoints from {iss}/.well-known/smart-configuration,
// and pkceMode "required" refuses to go on if the server does not offer S256.

(() => {
  const CLIENT_ID = 'bilirubin_chart';
  const SCOPE = 'launch launch/patient patient/Patient.read patient/Observation.read patient/Observation.write openid fhirUser online_access';

  const status = document.getElementById('status');
  const errorBox = document.getElementById('error');
  const form = document.getElementById('standalone');
  const issInput = document.getElementById('iss');

  function showError(text) {
    status.hidden = true;
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function firstLine(message) {
    return String(message ?? '').split('\n')[0].trim() || 'unknown error';
  }

  const params = new URLSearchParams(window.location.search);
  if (params.get('error')) {
    showError(`Authorization was refused: ${params.get('error')}${params.get('error_description') ? ` — ${params.get('error_description')}` : ''}.`);
    return;
  }

  if (!params.get('iss')) {
    showError('Authorization cannot start: no FHIR server was given. Launch the app from the sandbox, or enter a FHIR base URL below for a standalone launch.');
    document.getElementById('iss-example').textContent = `${window.location.origin}/demo/data`;
    form.hidden = false;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const iss = issInput.value.trim();
      if (!/^https?:\/\//i.test(iss)) {
        showError('The FHIR base URL must start with http:// or https://.');
        return;
      }
      window.location.assign(`launch.html?iss=${encodeURIComponent(iss)}`);
    });
    issInput.focus();
    return;
  }

  if (!window.FHIR?.oauth2) {
    showError('Authorization cannot start: the SMART client library (fhir-client.min.js) did not load.');
    return;
  }

  window.FHIR.oauth2
    .authorize({
      clientId: CLIENT_ID,
      scope: SCOPE,
      redirectUri: 'index.html',
      pkceMode: 'required',
      // Inside the console's simulated EHR frame the whole flow stays in the frame.
      completeInTarget: true,
    })
    .catch((err) => {
      showError(`Authorization cannot start: ${firstLine(err?.message)}`);
    });
})();
