package httpserver

import (
	"net/http"

	"parley/web"
)

func (s *Server) chatsPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.ChatsPage(s.page(r, "Chats", "chats")))
}
