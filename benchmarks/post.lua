-- wrk script: POST the documented example body, as every contender does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["X-API-Key"] = "mindo_emulator_0123456789abcdef"
wrk.body = '{"phone_number_id":"813497231850626","template_name":"welcome_message","language":"es","recipient_phone":"+5491120000000","variables":{"name":"Juan Perez","code":"ABC123"},"button_variables":{"button_0":"ABC-123"}}'
