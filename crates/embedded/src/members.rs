//! `InMemoryMembers`: members in a map, with the uniqueness the store enforces.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;

use pointshare_domain::ports::{
    AttachAccountError, InsertMemberError, MemberDirectory, MemberRepository, MemberSearch, SetEmailError, StoreError,
};
use pointshare_domain::{
    DisplayName, Email, Handle, HandlePrefix, Member, MemberId, MemberStatus, PasswordHash, ProviderAccountId, Role,
};

#[derive(Debug, Default)]
pub struct InMemoryMembers {
    members: Mutex<HashMap<MemberId, Member>>,
}

impl InMemoryMembers {
    fn find(&self, matches: impl Fn(&Member) -> bool) -> Option<Member> {
        self.members.lock().values().find(|m| matches(m)).cloned()
    }

    fn update(&self, id: MemberId, change: impl FnOnce(&mut Member)) -> Option<Member> {
        let mut members = self.members.lock();
        let member = members.get_mut(&id)?;
        change(member);
        Some(member.clone())
    }
}

#[async_trait]
impl MemberRepository for InMemoryMembers {
    async fn insert(&self, member: &Member) -> Result<(), InsertMemberError> {
        let mut members = self.members.lock();
        // Email and handle are normalised by their types, so equality is the
        // case-insensitive comparison the rule asks for.
        if members.values().any(|m| m.email == member.email) {
            return Err(InsertMemberError::EmailTaken);
        }
        if members.values().any(|m| m.handle == member.handle) {
            return Err(InsertMemberError::HandleTaken);
        }
        members.insert(member.id, member.clone());
        Ok(())
    }

    async fn by_id(&self, id: MemberId) -> Result<Option<Member>, StoreError> {
        Ok(self.members.lock().get(&id).cloned())
    }

    async fn by_ids(&self, ids: &[MemberId]) -> Result<Vec<Member>, StoreError> {
        let members = self.members.lock();
        Ok(ids.iter().filter_map(|id| members.get(id).cloned()).collect())
    }

    async fn by_email(&self, email: &Email) -> Result<Option<Member>, StoreError> {
        Ok(self.find(|m| &m.email == email))
    }

    async fn by_handle(&self, handle: &Handle) -> Result<Option<Member>, StoreError> {
        Ok(self.find(|m| &m.handle == handle))
    }

    async fn active_by_handle_prefix(&self, prefix: &HandlePrefix, limit: usize) -> Result<Vec<Member>, StoreError> {
        let members = self.members.lock();
        let mut found: Vec<Member> = members
            .values()
            .filter(|m| m.is_active() && m.handle.as_str().starts_with(prefix.as_str()))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.handle.cmp(&b.handle));
        found.truncate(limit);
        Ok(found)
    }

    async fn attach_account(&self, id: MemberId, account: &ProviderAccountId) -> Result<Member, AttachAccountError> {
        let mut members = self.members.lock();
        let member = members.get_mut(&id).ok_or(AttachAccountError::NotFound)?;
        match &member.provider_account {
            Some(existing) if existing != account => Err(AttachAccountError::AlreadyAttached(existing.clone())),
            _ => {
                member.provider_account = Some(account.clone());
                Ok(member.clone())
            }
        }
    }

    async fn set_display_name(&self, id: MemberId, name: &DisplayName) -> Result<Option<Member>, StoreError> {
        Ok(self.update(id, |m| m.display_name = name.clone()))
    }

    async fn set_status(&self, id: MemberId, status: MemberStatus) -> Result<Option<Member>, StoreError> {
        Ok(self.update(id, |m| m.status = status))
    }

    async fn set_role(&self, id: MemberId, role: Role) -> Result<Option<Member>, StoreError> {
        Ok(self.update(id, |m| m.role = role))
    }

    async fn set_email_verified(&self, id: MemberId, email: &Email) -> Result<Option<Member>, StoreError> {
        let mut members = self.members.lock();
        Ok(members.get_mut(&id).filter(|member| &member.email == email).map(|member| {
            member.email_verified = true;
            member.clone()
        }))
    }

    async fn set_verified_email(&self, id: MemberId, email: &Email) -> Result<Option<Member>, SetEmailError> {
        let mut members = self.members.lock();
        if members.values().any(|m| &m.email == email && m.id != id) {
            return Err(SetEmailError::EmailTaken);
        }
        Ok(members.get_mut(&id).map(|member| {
            member.email = email.clone();
            member.email_verified = true;
            member.clone()
        }))
    }

    async fn close(
        &self,
        id: MemberId,
        email: &Email,
        name: &DisplayName,
        at: DateTime<Utc>,
    ) -> Result<Option<Member>, StoreError> {
        Ok(self.update(id, |m| {
            m.status = MemberStatus::Closed;
            m.email = email.clone();
            m.email_verified = false;
            m.display_name = name.clone();
            m.closed_at = Some(at);
        }))
    }

    async fn release_handle(&self, id: MemberId, handle: &Handle) -> Result<Option<Member>, StoreError> {
        Ok(self.update(id, |m| m.handle = handle.clone()))
    }

    async fn set_password(&self, id: MemberId, hash: &PasswordHash) -> Result<Option<Member>, StoreError> {
        Ok(self.update(id, |m| m.password_hash = hash.clone()))
    }

    async fn without_account(&self, limit: usize) -> Result<Vec<Member>, StoreError> {
        let members = self.members.lock();
        let mut pending: Vec<_> = members.values().filter(|m| m.provider_account.is_none()).cloned().collect();
        pending.sort_by_key(|m| (m.created_at, m.id));
        pending.truncate(limit);
        Ok(pending)
    }
}

#[async_trait]
impl MemberDirectory for InMemoryMembers {
    async fn search(
        &self,
        search: &MemberSearch,
        after: Option<&Handle>,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        let members = self.members.lock();
        let mut listed: Vec<Member> = members
            .values()
            .filter(|member| search.lists(member) && after.is_none_or(|after| &member.handle > after))
            .cloned()
            .collect();
        listed.sort_by(|a, b| a.handle.cmp(&b.handle));
        listed.truncate(limit);
        Ok(listed)
    }

    async fn active_admins(&self, limit: usize) -> Result<Vec<MemberId>, StoreError> {
        let members = self.members.lock();
        Ok(members.values().filter(|m| m.is_admin() && m.is_active()).map(|m| m.id).take(limit).collect())
    }
}
