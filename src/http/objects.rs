//! Handlers for resource paths: list, watch, get, create, update, patch, delete,
//! deletecollection, and the status, scale, binding and finalize subresources (pod logs, exec,
//! attach and port-forward are handed to `logs`, `exec` and `portforward`). They parse the
//! request into a command or a query and render the result; they never run SQL or build events.

use super::body::{self, PatchType, ResponseFormat};
use super::error::ApiError;
use super::params::{self, Continue, FieldValidation, ListOptions, Query};
use super::protobuf;
use super::target::{self, Target};
use super::{AppState, Caller, RequestVerb, Warnings};
use crate::events::{Cause, Command, CommandError, RequestMeta, SubmitError, UpdatePart};
use crate::model::admit;
use crate::model::selector::LabelSelector;
use crate::model::strategic;
use crate::model::{ResourceKind, meta};
use crate::projections::ListQuery;
use crate::wire::printers;
use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// How often a patch is retried when the object changed between read and write.
const PATCH_RETRIES: usize = 5;

/// `/api/v1/...`
pub async fn core_api(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tail = req.match_info().get("tail").unwrap_or("").to_string();
    serve(req, payload, state, "", &tail).await
}

/// `/apis/{group}/{version}/...`
pub async fn group_api(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let group = req.match_info().get("group").unwrap_or("").to_string();
    let version = req.match_info().get("version").unwrap_or("");
    if version != "v1" {
        return Err(ApiError::path_not_found());
    }
    let tail = req.match_info().get("tail").unwrap_or("").to_string();
    serve(req, payload, state, &group, &tail).await
}

async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    group: &str,
    tail: &str,
) -> Result<HttpResponse, ApiError> {
    let segments: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
    let target = target::resolve(group, &segments).ok_or_else(ApiError::path_not_found)?;
    let query = Query::parse(req.query_string())?;
    let method = req.method().clone();
    let subresource = target.subresource.clone();
    let sub = subresource.as_deref();
    let kind = target.kind;
    let verb = match (&method, target.name.is_some(), sub) {
        (&Method::GET, false, None) if query.flag("watch")? => "watch",
        (&Method::GET, false, None) => "list",
        (&Method::POST, false, None) => "create",
        (&Method::DELETE, false, None) => "deletecollection",
        (&Method::GET, true, _) => "get",
        (&Method::PUT, true, _) => "update",
        (&Method::PATCH, true, _) => "patch",
        (&Method::DELETE, true, None) => "delete",
        (&Method::POST, true, Some(_)) => "create",
        _ => return Err(ApiError::method_not_allowed()),
    };
    let resource = match sub {
        Some(sub) => format!("{}/{sub}", kind.plural()),
        None => kind.plural().to_string(),
    };
    req.extensions_mut().insert(RequestVerb { verb, resource });
    if let Some(message) = &state.read_only
        && !matches!(verb, "get" | "list" | "watch")
    {
        return Err(ApiError::read_only(message));
    }
    if let Some(sub) = sub
        && !kind.subresources().iter().any(|s| s.name == sub)
    {
        return Err(ApiError::path_not_found());
    }
    // Namespaced kinds are only written inside a namespace.
    if kind.namespaced() && target.namespace.is_none() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::method_not_allowed());
    }
    let call = Call {
        req,
        target,
        query,
        state,
    };
    match (verb, sub) {
        ("list", _) => call.list().await,
        ("watch", _) => {
            super::watch::serve(&call.req, &call.state, &call.target, &call.query).await
        }
        ("create", None) => call.create(payload).await,
        // Namespaces and Services have no deletecollection in kube-apiserver.
        ("deletecollection", _) if !kind.verbs().contains(&"deletecollection") => {
            Err(ApiError::method_not_allowed())
        }
        ("deletecollection", _) => call.delete_collection(payload).await,
        ("get", Some("scale")) if has_scale(kind) => call.get_scale().await,
        ("get", Some("log")) if kind == ResourceKind::Pod => {
            super::logs::serve(&call.req, &call.state, &call.target, &call.query).await
        }
        ("get" | "create", Some(sub @ ("exec" | "attach"))) if kind == ResourceKind::Pod => {
            let mode = match sub {
                "exec" => super::exec::Mode::Exec,
                _ => super::exec::Mode::Attach,
            };
            super::exec::serve(
                call.req.clone(),
                payload,
                &call.state,
                &call.target,
                &call.query,
                mode,
            )
            .await
        }
        ("get" | "create", Some("portforward")) if kind == ResourceKind::Pod => {
            super::portforward::serve(
                call.req.clone(),
                payload,
                &call.state,
                &call.target,
                &call.query,
            )
            .await
        }
        ("get", None | Some("status")) => call.get().await,
        ("update", Some("scale")) if has_scale(kind) => call.replace_scale(payload).await,
        ("patch", Some("scale")) if has_scale(kind) => call.patch_scale(payload).await,
        ("update", None) => call.replace(payload, UpdatePart::Main).await,
        ("update", Some("status")) => call.replace(payload, UpdatePart::Status).await,
        ("update", Some("finalize")) => call.replace(payload, UpdatePart::Finalize).await,
        ("patch", None) => call.patch(payload, UpdatePart::Main).await,
        ("patch", Some("status")) => call.patch(payload, UpdatePart::Status).await,
        ("delete", None) => call.delete(payload).await,
        ("create", Some("binding")) if kind == ResourceKind::Pod => call.bind(payload).await,
        ("create", Some("token")) if kind == ResourceKind::ServiceAccount => {
            call.request_token(payload).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// One request to a resource path.
struct Call {
    req: HttpRequest,
    target: Target,
    query: Query,
    state: web::Data<AppState>,
}

impl Call {
    fn kind(&self) -> ResourceKind {
        self.target.kind
    }

    /// Namespace as stored: "" for cluster-scoped kinds.
    fn namespace(&self) -> &str {
        self.target.namespace.as_deref().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or("")
    }

    fn format(&self) -> ResponseFormat {
        body::response_format(&self.req)
    }

    fn respond(&self, code: u16, json_text: String) -> HttpResponse {
        let (content_type, body) = body::render(self.format(), json_text);
        HttpResponse::build(
            actix_web::http::StatusCode::from_u16(code).unwrap_or(actix_web::http::StatusCode::OK),
        )
        .content_type(content_type)
        .body(body)
    }

    fn respond_value(&self, code: u16, value: &Value) -> HttpResponse {
        self.respond(code, value.to_string())
    }

    fn request_meta(&self, dry_run: bool) -> RequestMeta {
        let caller = self.req.extensions().get::<Caller>().cloned();
        RequestMeta {
            actor: caller
                .as_ref()
                .map(|c| c.user.clone())
                .unwrap_or_else(|| "system:anonymous".to_string()),
            user_agent: self
                .req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            field_manager: self.query.get("fieldManager").map(str::to_string),
            request_id: caller.map(|c| c.request_id).unwrap_or_default(),
            // Workers in other processes name the event that made them act.
            caused_by: self
                .req
                .headers()
                .get(crate::api::CAUSED_BY_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
            causes: Vec::new(),
            dry_run,
        }
    }

    fn write_meta(&self) -> Result<RequestMeta, ApiError> {
        let meta = self.request_meta(params::dry_run(&self.query.all("dryRun"))?);
        match self.req.headers().get(crate::api::CAUSES_HEADER) {
            None => Ok(meta),
            Some(value) => {
                let causes = value
                    .to_str()
                    .ok()
                    .and_then(Cause::parse_list)
                    .filter(|list| {
                        !list.is_empty()
                            && list.len() <= crate::api::MAX_CAUSES
                            && list.iter().all(|c| {
                                c.seq > 0 && c.reason.len() <= crate::api::MAX_CAUSE_REASON
                            })
                    })
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "the {} header must be a JSON array of 1 to {} \
                             {{\"resourceVersion\": \"<seq>\", \"reason\": \"<at most {} \
                             characters>\"}}",
                            crate::api::CAUSES_HEADER,
                            crate::api::MAX_CAUSES,
                            crate::api::MAX_CAUSE_REASON
                        ))
                    })?;
                if meta
                    .caused_by
                    .is_some_and(|seq| Some(seq) != causes.first().map(|c| c.seq))
                {
                    return Err(ApiError::bad_request(format!(
                        "the {} header must name the first of the {} header's causes",
                        crate::api::CAUSED_BY_HEADER,
                        crate::api::CAUSES_HEADER
                    )));
                }
                Ok(meta.because(causes))
            }
        }
    }

    async fn submit(&self, command: Command, meta: RequestMeta) -> Result<Value, ApiError> {
        Ok(std::sync::Arc::unwrap_or_clone(
            self.state.log.submit(command, meta).await?.object,
        ))
    }

    async fn current(&self) -> Result<Value, ApiError> {
        let stored = self
            .state
            .store
            .get(self.kind(), self.namespace(), self.name())
            .await?
            .ok_or_else(|| ApiError::not_found(self.kind(), self.name()))?;
        serde_json::from_str(&stored.json).map_err(|e| ApiError::Unexpected(e.into()))
    }

    async fn get(&self) -> Result<HttpResponse, ApiError> {
        if let Some(rv) =
            params::resource_version(self.query.get("resourceVersion"))?.filter(|rv| *rv > 0)
        {
            self.wait_until_fresh(rv).await?;
        }
        let stored = self
            .state
            .store
            .get(self.kind(), self.namespace(), self.name())
            .await?
            .ok_or_else(|| ApiError::not_found(self.kind(), self.name()))?;
        if self.format() == ResponseFormat::Table && self.target.subresource.is_none() {
            return self.respond_table(&[stored.json], &stored.seq.to_string(), None);
        }
        Ok(self.respond(200, stored.json))
    }

    /// A Table of `items` (server-side printing), rows carrying what `includeObject` asks.
    fn respond_table(
        &self,
        items: &[String],
        resource_version: &str,
        continue_token: Option<&str>,
    ) -> Result<HttpResponse, ApiError> {
        let include = printers::IncludeObject::parse(self.query.get("includeObject"))
            .map_err(ApiError::bad_request)?;
        let objects = items
            .iter()
            .map(|json| serde_json::from_str::<Value>(json))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Unexpected(e.into()))?;
        let kind = self.kind();
        let table = printers::table(
            kind.as_str(),
            kind.api_version(),
            &objects,
            jiff::Timestamp::now(),
            include,
            resource_version,
            continue_token,
            true,
        );
        Ok(HttpResponse::Ok()
            .content_type(body::TABLE)
            .body(table.to_string()))
    }

    async fn list(&self) -> Result<HttpResponse, ApiError> {
        let kind = self.kind();
        let options = ListOptions::parse(kind, &self.query)?;
        let filter = &options.filter;
        let query = ListQuery {
            namespace: self.target.namespace.clone(),
            name: filter
                .fields
                .exact_value("metadata.name")
                .map(str::to_string),
            start_after: options
                .continue_from
                .as_ref()
                .map(|c| (c.namespace.clone(), c.name.clone())),
            limit: options.limit,
        };
        let keep = |o: &Value| filter.matches(o);
        let keep = (!filter.is_everything()).then_some(&keep as &(dyn Fn(&Value) -> bool + Sync));
        let exact = self.exact_resource_version(&options)?;
        self.check_continue(&options)?;
        if exact.is_none()
            && options.continue_from.is_none()
            && let Some(rv) = options.resource_version.filter(|rv| *rv > 0)
        {
            self.wait_until_fresh(rv).await?;
        }
        let page = match exact {
            Some(at) => self.state.store.list_at(kind, &query, keep, at).await?,
            None => self.state.store.list(kind, &query, keep).await?,
        };
        let resource_version = options
            .continue_from
            .as_ref()
            .map(|c| c.resource_version)
            .unwrap_or(page.resource_version);
        let continue_token = page.continue_after.map(|(namespace, name)| {
            Continue {
                resource_version,
                exact: exact.is_some(),
                namespace,
                name,
            }
            .encode()
        });
        if self.format() == ResponseFormat::Table {
            return self.respond_table(
                &page.items,
                &resource_version.to_string(),
                continue_token.as_deref(),
            );
        }
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if let Some(token) = continue_token {
            metadata["continue"] = json!(token);
        }
        Ok(self.respond(200, list_json(kind, &metadata, &page.items)))
    }

    /// A read "not older than" `rv` (a get or list naming a resourceVersion) waits a moment
    /// for the log to reach it, then fails as kube-apiserver's watch cache does: 504 `Timeout`,
    /// "Too large resource version".
    async fn wait_until_fresh(&self, rv: i64) -> Result<(), ApiError> {
        crate::projections::watch::wait_until_fresh(&self.state.log, rv)
            .await
            .map_err(|current| ApiError::resource_version_too_large(rv, current))
    }

    /// A continue token must fit the list it continues: no resourceVersion beside it, the
    /// namespace of the request (every token of a cluster-scoped kind has none), and a
    /// resourceVersion the log has reached. Decoding checked its form.
    fn check_continue(&self, options: &ListOptions) -> Result<(), ApiError> {
        let Some(from) = &options.continue_from else {
            return Ok(());
        };
        if options.resource_version.is_some_and(|rv| rv != 0) {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let namespace_fits = match &self.target.namespace {
            Some(namespace) => from.namespace == *namespace,
            None => self.kind().namespaced() || from.namespace.is_empty(),
        };
        if !namespace_fits {
            return Err(ApiError::bad_request(
                "invalid continue token: continue key is not valid: it continues a list of another namespace",
            ));
        }
        let current = self.state.log.last_seq();
        if from.resource_version > current {
            return Err(ApiError::resource_version_too_large(
                from.resource_version,
                current,
            ));
        }
        Ok(())
    }

    /// The log position of a `resourceVersionMatch=Exact` list (or of a page continuing one),
    /// checked as kube-apiserver checks it; `None` for a list of the current state.
    fn exact_resource_version(&self, options: &ListOptions) -> Result<Option<i64>, ApiError> {
        if let Some(from) = options.continue_from.as_ref().filter(|c| c.exact) {
            return Ok(Some(from.resource_version));
        }
        match self.query.get("resourceVersionMatch").unwrap_or("") {
            "" | "NotOlderThan" => Ok(None),
            "Exact" => {
                let at = match options.resource_version {
                    None => {
                        return Err(ApiError::invalid_list_options(
                            "resourceVersionMatch",
                            "resourceVersionMatch is forbidden unless resourceVersion is provided",
                        ));
                    }
                    Some(0) => {
                        return Err(ApiError::invalid_list_options(
                            "resourceVersionMatch",
                            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                        ));
                    }
                    Some(at) => at,
                };
                if options.continue_from.is_some() {
                    return Err(ApiError::invalid_list_options(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
                let current = self.state.log.last_seq();
                if at > current {
                    return Err(ApiError::resource_version_too_large(at, current));
                }
                Ok(Some(at))
            }
            other => Err(ApiError::bad_request(format!(
                "invalid value for resourceVersionMatch: {other:?}; supported values: \"Exact\", \"NotOlderThan\""
            ))),
        }
    }

    /// A POST or PUT body as JSON: JSON or YAML as is, protobuf (typed clients) decoded from
    /// the message of `kind` in `api_version`, which its envelope must name.
    fn typed_body(&self, bytes: &[u8], api_version: &str, kind: &str) -> Result<Value, ApiError> {
        if body::is_protobuf(&self.req) {
            return protobuf::decode_object(bytes, api_version, kind);
        }
        body::decode_object(&self.req, bytes)
    }

    /// Decode a body and check it names this endpoint's kind.
    fn object_body(&self, bytes: &[u8]) -> Result<Value, ApiError> {
        let kind = self.kind();
        let mut object = self.typed_body(bytes, kind.api_version(), kind.as_str())?;
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let body_kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        body::check_type(api_version, body_kind, kind.api_version(), kind.as_str())?;
        object["apiVersion"] = json!(kind.api_version());
        object["kind"] = json!(kind.as_str());
        let body_ns = meta::namespace(&object);
        if kind.namespaced() && !body_ns.is_empty() && body_ns != self.namespace() {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        Ok(object)
    }

    async fn create(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let bytes = body::read(payload).await?;
        let object = self.object_body(&bytes)?;
        self.check_fields(&object)?;
        let meta = self.write_meta()?;
        let command = Command::Create {
            kind: self.kind(),
            namespace: self.namespace().to_string(),
            object,
        };
        let created = self.submit(command, meta).await?;
        Ok(self.respond_value(201, &created))
    }

    /// Apply `fieldValidation` to the fields of `object` its kind does not define: refuse
    /// (Strict), or warn through the `Warning` header (Warn, the default), or ignore.
    fn check_fields(&self, object: &Value) -> Result<(), ApiError> {
        let validation = FieldValidation::parse(&self.query)?;
        if validation == FieldValidation::Ignore {
            return Ok(());
        }
        let unknown = admit::unknown_fields(self.kind(), object);
        if unknown.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        if validation == FieldValidation::Strict {
            let kind = self.kind();
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
                kind.version(),
                listed.join(", ")
            )));
        }
        let mut extensions = self.req.extensions_mut();
        match extensions.get_mut::<Warnings>() {
            Some(warnings) => warnings.0.extend(listed),
            None => {
                extensions.insert(Warnings(listed));
            }
        }
        Ok(())
    }

    fn check_name(&self, object: &Value) -> Result<(), ApiError> {
        let name = meta::name(object);
        if name != self.name() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                self.name()
            )));
        }
        Ok(())
    }

    fn update_command(&self, object: Value, part: UpdatePart) -> Command {
        Command::Update {
            kind: self.kind(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
            object,
            part,
        }
    }

    async fn replace(
        &self,
        payload: web::Payload,
        part: UpdatePart,
    ) -> Result<HttpResponse, ApiError> {
        let bytes = body::read(payload).await?;
        let object = self.object_body(&bytes)?;
        self.check_name(&object)?;
        self.check_fields(&object)?;
        let meta = self.write_meta()?;
        let updated = self.submit(self.update_command(object, part), meta).await?;
        Ok(self.respond_value(200, &updated))
    }

    async fn patch(
        &self,
        payload: web::Payload,
        part: UpdatePart,
    ) -> Result<HttpResponse, ApiError> {
        if body::content_type(&self.req) == body::APPLY_PATCH {
            return match part {
                UpdatePart::Main => self.server_side_apply(payload).await,
                _ => Err(ApiError::unsupported_media_type(
                    body::APPLY_PATCH,
                    &[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/strategic-merge-patch+json",
                    ],
                )),
            };
        }
        let patch_type = body::patch_type(&self.req)?;
        let bytes = body::read(payload).await?;
        let patch: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("the patch could not be decoded as JSON: {e}"))
        })?;
        let meta = self.write_meta()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.current().await?;
            let before = meta::resource_version(&current).to_string();
            let patched = apply_patch(self.kind().as_str(), patch_type, &current, &patch)?;
            self.check_name(&patched)?;
            if attempt == 1 {
                self.check_fields(&patched)?;
            }
            // A patch that names a resourceVersion asks for that exact version; otherwise it
            // applies to whatever is current, so a lost race is simply retried.
            let pinned = meta::resource_version(&patched) != before;
            match self
                .state
                .log
                .submit(self.update_command(patched, part), meta.clone())
                .await
            {
                Ok(done) => return Ok(self.respond_value(200, &done.object)),
                Err(SubmitError::Command(CommandError::Conflict { .. }))
                    if !pinned && attempt < PATCH_RETRIES => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `application/apply-patch+yaml`: server-side apply as `fieldManager`; creates the object
    /// when it does not exist (201).
    async fn server_side_apply(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let manager = self.query.get("fieldManager").unwrap_or("");
        if manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
            ));
        }
        let bytes = body::read(payload).await?;
        let config = body::decode_yaml(&bytes)?;
        if !config.is_object() {
            return Err(ApiError::bad_request(
                "the applied configuration must be an object",
            ));
        }
        let kind = self.kind();
        for (field, expected) in [("apiVersion", kind.api_version()), ("kind", kind.as_str())] {
            let given = config.get(field).and_then(Value::as_str).unwrap_or("");
            if given != expected {
                return Err(ApiError::bad_request(format!(
                    "the {field} of the applied configuration ({given}) does not match the endpoint ({expected})"
                )));
            }
        }
        self.check_name(&config)?;
        self.check_fields(&config)?;
        let force = self.query.flag("force")?;
        let existed = self
            .state
            .store
            .get(kind, self.namespace(), self.name())
            .await?
            .is_some();
        let command = Command::Apply {
            kind,
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
            config,
            force,
        };
        let object = self.submit(command, self.write_meta()?).await?;
        Ok(self.respond_value(if existed { 200 } else { 201 }, &object))
    }

    async fn delete(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let bytes = body::read(payload).await?;
        let body = self.delete_body(&bytes)?;
        let (options, dry_run) = params::delete_options(&self.query, body.as_ref())?;
        let command = Command::Delete {
            kind: self.kind(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
            options,
        };
        let deleted = self.submit(command, self.request_meta(dry_run)).await?;
        Ok(self.respond_value(200, &deleted))
    }

    /// A DeleteOptions body, if any, in JSON, YAML or (from typed clients) protobuf.
    fn delete_body(&self, bytes: &[u8]) -> Result<Option<Value>, ApiError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        if body::is_protobuf(&self.req) {
            return protobuf::decode_delete_options(bytes).map(Some);
        }
        body::decode_object(&self.req, bytes).map(Some)
    }

    async fn delete_collection(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let kind = self.kind();
        let bytes = body::read(payload).await?;
        let body = self.delete_body(&bytes)?;
        let (options, dry_run) = params::delete_options(&self.query, body.as_ref())?;
        let list = ListOptions::parse(kind, &self.query)?;
        let filter = &list.filter;
        let keep = |o: &Value| filter.matches(o);
        let query = ListQuery {
            namespace: self.target.namespace.clone(),
            ..Default::default()
        };
        let page = self
            .state
            .store
            .list(
                kind,
                &query,
                (!filter.is_everything()).then_some(&keep as &(dyn Fn(&Value) -> bool + Sync)),
            )
            .await?;
        let mut deleted = Vec::with_capacity(page.items.len());
        for json in &page.items {
            let object: Value =
                serde_json::from_str(json).map_err(|e| ApiError::Unexpected(e.into()))?;
            let command = Command::Delete {
                kind,
                namespace: meta::namespace(&object).to_string(),
                name: meta::name(&object).to_string(),
                options: options.clone(),
            };
            match self
                .state
                .log
                .submit(command, self.request_meta(dry_run))
                .await
            {
                Ok(done) => deleted.push(done.object.to_string()),
                // Gone meanwhile: nothing left to delete.
                Err(SubmitError::Command(CommandError::NotFound { .. })) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let metadata = json!({"resourceVersion": self.state.log.last_seq().to_string()});
        Ok(self.respond(200, list_json(kind, &metadata, &deleted)))
    }

    async fn get_scale(&self) -> Result<HttpResponse, ApiError> {
        let rs = self.current().await?;
        Ok(self.respond_value(200, &scale_of(&rs)))
    }

    async fn replace_scale(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let bytes = body::read(payload).await?;
        let scale = self.typed_body(&bytes, "autoscaling/v1", "Scale")?;
        self.apply_scale(&scale).await
    }

    async fn patch_scale(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let patch_type = body::patch_type(&self.req)?;
        let bytes = body::read(payload).await?;
        let patch: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("the patch could not be decoded as JSON: {e}"))
        })?;
        let current = scale_of(&self.current().await?);
        let mut patched = apply_patch("Scale", patch_type, &current, &patch)?;
        // As for any patch: only a resourceVersion the patch itself names is a precondition.
        if meta::resource_version(&patched) == meta::resource_version(&current) {
            meta::remove_meta(&mut patched, "resourceVersion");
        }
        self.apply_scale(&patched).await
    }

    async fn apply_scale(&self, scale: &Value) -> Result<HttpResponse, ApiError> {
        let replicas = match scale.pointer("/spec/replicas") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_i64()
                .and_then(|r| i32::try_from(r).ok())
                .ok_or_else(|| ApiError::bad_request("spec.replicas must be an integer"))?,
        };
        let resource_version =
            Some(meta::resource_version(scale).to_string()).filter(|r| !r.is_empty());
        let command = Command::Scale {
            kind: self.kind(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
            replicas,
            resource_version,
        };
        let rs = self.submit(command, self.write_meta()?).await?;
        Ok(self.respond_value(200, &scale_of(&rs)))
    }

    /// `serviceaccounts/{name}/token`: a TokenRequest answered with a signed token.
    async fn request_token(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let bytes = body::read(payload).await?;
        let request = self.typed_body(&bytes, "authentication.k8s.io/v1", "TokenRequest")?;
        let answer =
            super::tokens::request(&self.state, self.namespace(), self.name(), request).await?;
        Ok(self.respond_value(201, &answer))
    }

    async fn bind(&self, payload: web::Payload) -> Result<HttpResponse, ApiError> {
        let bytes = body::read(payload).await?;
        let binding = self.typed_body(&bytes, "v1", "Binding")?;
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let uid = Some(meta::uid(&binding).to_string()).filter(|u| !u.is_empty());
        let command = Command::Bind {
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
            node,
            uid,
        };
        self.submit(command, self.write_meta()?).await?;
        Ok(self.respond_value(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }
}

/// A `<Kind>List` around already-serialized items.
fn list_json(kind: ResourceKind, metadata: &Value, items: &[String]) -> String {
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 128);
    out.push_str(&format!(
        "{{\"apiVersion\":\"{}\",\"items\":[",
        kind.api_version()
    ));
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str(&format!(
        "],\"kind\":\"{}List\",\"metadata\":{metadata}}}",
        kind.as_str()
    ));
    out
}

/// Whether `kind` serves the `scale` subresource.
fn has_scale(kind: ResourceKind) -> bool {
    kind.subresources().iter().any(|s| s.name == "scale")
}

/// The autoscaling/v1 Scale view of a ReplicaSet or Deployment.
fn scale_of(rs: &Value) -> Value {
    let selector = rs
        .pointer("/spec/selector")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .and_then(|s| LabelSelector::from_label_selector(&s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta::name(rs), "namespace": meta::namespace(rs), "uid": meta::uid(rs),
            "resourceVersion": meta::resource_version(rs),
            "creationTimestamp": rs.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
        },
        "spec": {"replicas": rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": rs.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// Apply a JSON patch (RFC 6902), a merge patch (RFC 7386) or a strategic merge patch to
/// `current`, an object of `kind` (or its Scale).
pub fn apply_patch(
    kind: &str,
    patch_type: PatchType,
    current: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    let mut patched = current.clone();
    match patch_type {
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            patched = strategic::strategic_merge(kind, current, patch)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(&mut patched, patch);
        }
        PatchType::Json => {
            let operations: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is malformed: {e}")))?;
            apply_json_patch(&mut patched, &operations, body::MAX_BODY)?;
        }
    }
    Ok(patched)
}

/// Most operations in one JSON patch, as kube-apiserver's `maxJSONPatchOperations`.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Apply `operations` to `doc` one at a time, refusing more than
/// `MAX_JSON_PATCH_OPERATIONS` and `copy` operations that copy more than `limit` bytes in
/// all. Only a `copy` can grow a document beyond what the patch itself carries, so this
/// bounds the result, and the work, before it is done: a patch that copies an array into
/// itself 34 times is refused at the copy that crosses the limit, not after doubling past it.
/// On error `doc` is partly patched: callers patch a copy.
fn apply_json_patch(
    doc: &mut Value,
    operations: &[json_patch::PatchOperation],
    limit: usize,
) -> Result<(), ApiError> {
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::entity_too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    let mut copied = 0usize;
    for operation in operations {
        if let json_patch::PatchOperation::Copy(copy) = operation
            && let Some(from) = doc.pointer(copy.from.as_str())
        {
            copied = copied.saturating_add(json_size_up_to(from, limit - copied + 1));
            if copied > limit {
                return Err(ApiError::invalid_patch(format!(
                    "Unable to complete the copy, the accumulated size increase of copy exceeds the limit {limit}"
                )));
            }
        }
        json_patch::patch_unsafe(doc, std::slice::from_ref(operation))
            .map_err(|e| ApiError::invalid_patch(e.to_string()))?;
    }
    Ok(())
}

/// The length of `value` as JSON, counting no further than `limit` bytes.
fn json_size_up_to(value: &Value, limit: usize) -> usize {
    struct Counter {
        count: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.count = self.count.saturating_add(buf.len());
            if self.count > self.limit {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { count: 0, limit };
    let _ = serde_json::to_writer(&mut counter, value);
    counter.count
}
