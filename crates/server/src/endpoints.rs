//! The methods each path takes, read from the OpenAPI document the handlers
//! generate, so a 405 can say in `Allow` what would have worked (RFC 9110
//! requires it) without a second route table to keep in step.

use utoipa::openapi::OpenApi;

#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Path templates split at `/` (`{id}` matches any segment), with their methods.
    routes: Vec<(Vec<String>, String)>,
}

impl Endpoints {
    pub fn of(document: &OpenApi) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, served)| served.then_some(method))
                .collect();
                (path.split('/').map(str::to_owned).collect(), methods.join(", "))
            })
            .collect();
        Endpoints { routes }
    }

    /// The `Allow` value for `path`, if it is one of the document's paths.
    pub fn allow(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(expected, given)| expected.starts_with('{') || expected == given)
            })
            .map(|(_, methods)| methods.as_str())
    }
}
