//! [`Resource`]: what a [`Error::NotFound`](crate::Error::NotFound) names.

/// What a [`Error::NotFound`](crate::Error::NotFound) could not find. Its name (`as_str`,
/// `Display`) is what messages say: `document `0191…` not found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// A knowledge document.
    Document,
    /// A namespace (no document was ever stored in it).
    Namespace,
    /// An agent context.
    Context,
    /// A message of a context.
    Message,
    /// A memory block.
    MemoryBlock,
    /// An API key.
    Key,
    /// A tenant.
    Tenant,
    /// A model this server does not serve.
    Model,
    /// A registered service version.
    Service,
    /// An instance of a service.
    Instance,
    /// A workflow definition.
    Workflow,
    /// A workflow run.
    WorkflowRun,
    /// An agent definition.
    Agent,
    /// An agent run.
    AgentRun,
    /// A dead-lettered event.
    DeadLetter,
    /// A database row a statement required (a store's own bookkeeping).
    Record,
    /// A package on a Python package index (a `pypi:` model source).
    Package,
    /// A stored response of the Responses API.
    Response,
    /// A fact a context learned.
    Fact,
}

impl Resource {
    /// The resource's name in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Resource::Document => "document",
            Resource::Namespace => "namespace",
            Resource::Context => "context",
            Resource::Message => "message",
            Resource::MemoryBlock => "memory block",
            Resource::Key => "key",
            Resource::Tenant => "tenant",
            Resource::Model => "model",
            Resource::Service => "service",
            Resource::Instance => "instance",
            Resource::Workflow => "workflow",
            Resource::WorkflowRun => "workflow run",
            Resource::Agent => "agent",
            Resource::AgentRun => "agent run",
            Resource::DeadLetter => "dead letter",
            Resource::Record => "record",
            Resource::Package => "package",
            Resource::Response => "response",
            Resource::Fact => "fact",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
